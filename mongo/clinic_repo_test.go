package mongo_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/go-cmp/cmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/clinic"
)

func TestMain(m *testing.M) { mongotest.Main(m) }

func TestClinicRepo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := mongo.NewClinicRepo(mongotest.DB(t))

	if _, err := repo.Get(ctx); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("Get on empty database: got %v, want NotFound", err)
	}

	c := clinic.Default()
	c.Name = "서울미소치과의원"
	c.Phone = "02-123-4567"
	c.ClosedDays = []*molarv1.ClosedDay{{Date: "2026-09-24", Reason: "추석 연휴"}}
	c.UpdateTime = timestamppb.New(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))

	saved, err := repo.Save(ctx, c, audit.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if saved.Version != 1 {
		t.Fatalf("first save: version %d, want 1", saved.Version)
	}
	got, err := repo.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := proto.CloneOf(c)
	want.Version = 1
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}

	// A save based on an old version changes nothing.
	stale := proto.CloneOf(c)
	stale.Name = "stale"
	if _, err := repo.Save(ctx, stale, audit.Event{}); services.ErrorCode(err) != services.Aborted {
		t.Fatalf("save from version 0 after version 1: got %v, want Aborted", err)
	}
	if got, _ := repo.Get(ctx); got.Name != c.Name {
		t.Fatalf("stale save changed the name to %q", got.Name)
	}
}

// TestClinicRepoRace races many saves from the same version: exactly one wins
// and every other one is told it lost.
func TestClinicRepoRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := mongo.NewClinicRepo(mongotest.DB(t))
	base, err := repo.Save(ctx, clinic.Default(), audit.Event{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wins, aborted atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := proto.CloneOf(base)
			c.Address = string(rune('A' + i))
			_, err := repo.Save(ctx, c, audit.Event{})
			switch services.ErrorCode(err) {
			case 0:
				if err == nil {
					wins.Add(1)
					return
				}
				t.Errorf("save: %v", err)
			case services.Aborted:
				aborted.Add(1)
			default:
				t.Errorf("save: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || aborted.Load() != n-1 {
		t.Fatalf("wins=%d aborted=%d, want 1 and %d", wins.Load(), aborted.Load(), n-1)
	}
	got, err := repo.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 {
		t.Fatalf("version %d, want 2", got.Version)
	}
}
