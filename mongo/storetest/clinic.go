package storetest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/clinic"
)

// Clinic is what an engine gives the clinic service: a fresh, empty
// database's profile store and audit trail, both on one database, dropped
// when the test ends.
type Clinic struct {
	Store clinic.Store
	Audit audit.Store
	// AuditInCommit says the store writes a revision's audit record into
	// the trail inside the revision's own commit (see Auth.AuditInCommit).
	AuditInCommit bool
}

// ClinicEngine opens a fresh Clinic for a test.
type ClinicEngine func(t *testing.T) Clinic

// TestClinic runs the clinic profile contract against an engine.
func TestClinic(t *testing.T, open ClinicEngine) {
	for name, test := range map[string]func(*testing.T, ClinicEngine){
		"round trip and stale save": clinicRoundTrip,
		"save is one winner":        clinicSaveIsOneWinner,
		"only the newest version":   clinicOnlyFromNewest,
		"change stands when trail fails": func(t *testing.T, open ClinicEngine) {
			changeStandsWhenTrailFails(t, func(t *testing.T) *clinicWorld { return newClinicWorld(open(t)) }, clinicChanges())
		},
		"change projected once": func(t *testing.T, open ClinicEngine) {
			changeProjectedOnce(t, func(t *testing.T) *clinicWorld { return newClinicWorld(open(t)) }, clinicChanges())
		},
		"crash after commit": func(t *testing.T, open ClinicEngine) {
			crashAfterCommit(t, func(t *testing.T) *clinicWorld { return newClinicWorld(open(t)) }, clinicChanges())
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// clinicNow is the clock of the clinic tests.
var clinicNow = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// clinicRoundTrip saves the profile and reads it back field for field; a
// save based on an old version changes nothing.
func clinicRoundTrip(t *testing.T, open ClinicEngine) {
	ctx := context.Background()
	repo := open(t).Store

	if _, err := repo.Get(ctx); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("Get on empty database: got %v, want NotFound", err)
	}

	c := clinic.Default()
	c.Name = "서울미소치과의원"
	c.Phone = "02-123-4567"
	c.ClosedDays = []*molarv1.ClosedDay{{Date: "2026-09-24", Reason: "추석 연휴"}}
	c.UpdateTime = timestamppb.New(clinicNow)

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

// clinicOnlyFromNewest saves from every version but the newest: older
// ones (also below a gap a wrong save could leave), negative ones, future
// ones and the largest there is. Each is told it lost and nothing changes;
// then a save from the newest makes the next version.
func clinicOnlyFromNewest(t *testing.T, open ClinicEngine) {
	ctx := context.Background()
	repo := open(t).Store
	var cur *molarv1.Clinic
	for range 3 {
		c := clinic.Default()
		if cur != nil {
			c = proto.CloneOf(cur)
		}
		c.Name = fmt.Sprintf("version %d", c.GetVersion()+1)
		c.UpdateTime = timestamppb.New(clinicNow)
		var err error
		if cur, err = repo.Save(ctx, c, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, v := range map[string]int64{
		"nothing saved": 0, "stale": 1, "just before": 2, "negative": -1, "very negative": math.MinInt64,
		"next": 4, "future": 3 + 1000, "largest": math.MaxInt64,
	} {
		c := proto.CloneOf(cur)
		c.Name, c.Version = "from "+name, v
		if saved, err := repo.Save(ctx, c, audit.Event{}); services.ErrorCode(err) != services.Aborted {
			t.Errorf("save from version %d (%s) with version 3 newest: %v, %v; want Aborted", v, name, saved, err)
		}
		if got, err := repo.Get(ctx); err != nil || !proto.Equal(got, cur) {
			t.Fatalf("after the save from version %d (%s): %v, %v; want still %v", v, name, got, err, cur)
		}
	}
	next := proto.CloneOf(cur)
	next.Name = "version 4"
	saved, err := repo.Save(ctx, next, audit.Event{})
	if err != nil || saved.GetVersion() != 4 {
		t.Fatalf("save from the newest version: %v, %v; want version 4", saved, err)
	}
	if got, err := repo.Get(ctx); err != nil || !proto.Equal(got, saved) {
		t.Fatalf("after saving from the newest: %v, %v; want %v", got, err, saved)
	}
}

// clinicSaveIsOneWinner races many saves from the same version: exactly
// one wins and every other one is told it lost.
func clinicSaveIsOneWinner(t *testing.T, open ClinicEngine) {
	ctx := context.Background()
	repo := open(t).Store
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

// clinicWorld is a server process's clinic service over one database,
// seen through a trail that can fail or hold appends.
type clinicWorld struct {
	e   Clinic
	r   *trailRig
	svc *clinic.Service
}

func newClinicWorld(e Clinic) *clinicWorld {
	now := func() time.Time { return clinicNow }
	return &clinicWorld{e: e, r: newTrailRig(e.Audit, e.AuditInCommit, now, e.Store), svc: clinic.NewService(e.Store, now)}
}

func (w *clinicWorld) rig() *trailRig { return w.r }

func (w *clinicWorld) restart(*testing.T) *clinicWorld { return newClinicWorld(w.e) }

// clinicChanges lists the change of the profile, which carries its audit
// event.
func clinicChanges() []trailCase[*clinicWorld] {
	ctx := staffAdmin("admin-1")
	return []trailCase[*clinicWorld]{
		{"clinic profile", molarv1.AuditAction_AUDIT_ACTION_CLINIC_UPDATED, func(t *testing.T, w *clinicWorld) func() (string, error) {
			return func() (string, error) {
				c := clinic.Default()
				c.Name, c.Phone = "서울미소치과의원", "02-555-2875"
				_, err := w.svc.UpdateRecorded(ctx, c, w.r.rec)
				return "clinic", err
			}
		}, func(t *testing.T, w *clinicWorld, _ string) {
			if c, err := w.e.Store.Get(context.Background()); err != nil || c.GetVersion() != 1 {
				t.Errorf("clinic %v, %v", c, err)
			}
		}},
	}
}
