package main

import (
	"context"
	"math"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// TestClinicSavesOnlyFromNewest: UpdateClinic succeeds only from the
// version last saved. A stale, future or the largest version is refused as
// ABORTED, a negative one as INVALID_ARGUMENT, and the profile stays as it
// was; none is ever answered ok.
func TestClinicSavesOnlyFromNewest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	admin := molarv1connect.NewClinicServiceClient(http.DefaultClient, ts.URL, bearer(ts.adminToken(t)))
	update := func(c *molarv1.Clinic) (*molarv1.Clinic, error) {
		res, err := admin.UpdateClinic(ctx, connect.NewRequest(&molarv1.UpdateClinicRequest{Clinic: c}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetClinic(), nil
	}
	var cur *molarv1.Clinic
	for range 2 {
		c := validClinic()
		c.Version = cur.GetVersion()
		var err error
		if cur, err = update(c); err != nil {
			t.Fatal(err)
		}
	}
	if cur.GetVersion() != 2 {
		t.Fatalf("two saves made version %d, want 2", cur.GetVersion())
	}
	for _, tc := range []struct {
		name    string
		version int64
		want    connect.Code
	}{
		{"never saved", 0, connect.CodeAborted},
		{"stale", 1, connect.CodeAborted},
		{"next", 3, connect.CodeAborted},
		{"future", 2 + 1000, connect.CodeAborted},
		{"largest", math.MaxInt64, connect.CodeAborted},
		{"negative", -1, connect.CodeInvalidArgument},
		{"most negative", math.MinInt64, connect.CodeInvalidArgument},
	} {
		c := validClinic()
		c.Name, c.Version = "다른치과", tc.version
		if got, err := update(c); connect.CodeOf(err) != tc.want {
			t.Errorf("save from version %d (%s) with 2 the newest: %v, %v; want %v", tc.version, tc.name, got, err, tc.want)
		}
		res, err := admin.GetClinic(ctx, connect.NewRequest(&molarv1.GetClinicRequest{}))
		if err != nil || !proto.Equal(res.Msg.GetClinic(), cur) {
			t.Fatalf("after the save from version %d (%s): %v, %v; want still %v", tc.version, tc.name, res, err, cur)
		}
	}
	c := validClinic()
	c.Name, c.Version = "다른치과", 2
	if saved, err := update(c); err != nil || saved.GetVersion() != 3 || saved.GetName() != "다른치과" {
		t.Fatalf("save from the newest version: %v, %v; want version 3", saved, err)
	}
}
