package mongo_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/patient"
)

// TestPatientRepoStaleSave: a save from an older version is refused with
// Aborted and changes nothing.
func TestPatientRepoStaleSave(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := mongo.NewPatientRepo(mongotest.DB(t))
	now := time.Now()
	v1 := patient.Record{ID: "p1", ChartNumber: 1, Details: newPatientInput("first"), Active: true, Created: now, Updated: now, Version: 1}
	if err := repo.Create(ctx, v1, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	next := v1
	next.Details = newPatientInput("second")
	v2, err := repo.Save(ctx, next, audit.Event{})
	if err != nil || v2.Version != 2 {
		t.Fatalf("save from version 1: version %d, %v", v2.Version, err)
	}
	stale := v1
	stale.Details = newPatientInput("stale")
	if _, err := repo.Save(ctx, stale, audit.Event{}); services.ErrorCode(err) != services.Aborted {
		t.Fatalf("save from version 1 after version 2: %v, want Aborted", err)
	}
	got, err := repo.Get(ctx, "p1")
	if err != nil || got.Version != 2 || got.Details.GetMemo() != "second" {
		t.Fatalf("after the stale save: version %d memo %q (%v), want version 2 memo second", got.Version, got.Details.GetMemo(), err)
	}
}

// TestPatientRepoLateStaleWrite: on the embedded engine a version-guarded
// replace is not atomic, so a writer's write of version 2 to the current
// document may land after another's write of version 3. The repository
// still never answers with version 2, refuses a save from it, and puts the
// current document back.
func TestPatientRepoLateStaleWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.DB(t)
	repo := mongo.NewPatientRepo(db)
	now := time.Now()
	r := patient.Record{ID: "p1", ChartNumber: 1, Details: newPatientInput("v1"), Active: true, Created: now, Updated: now, Version: 1}
	if err := repo.Create(ctx, r, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, memo := range []string{"v2", "v3"} {
		r.Details = newPatientInput(memo)
		var err error
		if r, err = repo.Save(ctx, r, audit.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	var rev struct {
		Patient bson.Raw `bson:"patient"`
	}
	if err := db.Database.Collection("patient_revisions").FindOne(ctx, bson.D{{Key: "_id", Value: "p1:0000000002"}}).Decode(&rev); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Database.Collection("patients").ReplaceOne(ctx, bson.D{{Key: "_id", Value: "p1"}}, rev.Patient); err != nil {
		t.Fatal(err)
	}

	got, err := repo.Get(ctx, "p1")
	if err != nil || got.Version != 3 || got.Details.GetMemo() != "v3" {
		t.Fatalf("get after a late stale write: version %d memo %q (%v), want 3 and v3", got.Version, got.Details.GetMemo(), err)
	}
	stale := got
	stale.Version, stale.Details = 2, newPatientInput("from 2")
	if _, err := repo.Save(ctx, stale, audit.Event{}); services.ErrorCode(err) != services.Aborted {
		t.Fatalf("save from version 2: %v, want Aborted", err)
	}
	all, err := repo.All(ctx)
	if err != nil || len(all) != 1 || all[0].Version != 3 {
		t.Fatalf("current document after the read: %+v (%v), want version 3", all, err)
	}
}

// TestPatientRepoRace races writers that each save one patient over and
// over, from the version they last read, while a reader watches; some
// writers also keep saving from the first version. Exactly one save wins
// each version, every other one is refused with Aborted, and neither the
// reader during the race nor the stored record afterwards ever shows an
// older version than one already won.
func TestPatientRepoRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := mongo.NewPatientRepo(mongotest.DB(t))
	now := time.Now()
	first := patient.Record{ID: "p1", ChartNumber: 1, Details: newPatientInput("v1"), Active: true, Created: now, Updated: now, Version: 1}
	if err := repo.Create(ctx, first, audit.Event{}); err != nil {
		t.Fatal(err)
	}

	const writers, savesEach = 12, 6
	var (
		won     atomic.Int64 // the highest version won so far
		mu      sync.Mutex
		winners = map[int64][]string{} // version → memos of the saves that won it
	)
	won.Store(1)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			floor := won.Load()
			r, err := repo.Get(ctx, "p1")
			if err != nil {
				t.Errorf("get during the race: %v", err)
				return
			}
			if r.Version < floor {
				t.Errorf("get answered version %d after version %d was won: rolled back", r.Version, floor)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for n := range savesEach {
				from := first // long stale
				if i%4 != 3 {
					var err error
					if from, err = repo.Get(ctx, "p1"); err != nil {
						t.Errorf("get: %v", err)
						return
					}
				}
				memo := fmt.Sprintf("writer %d save %d", i, n)
				r := from
				r.Details = newPatientInput(memo)
				saved, err := repo.Save(ctx, r, audit.Event{})
				switch {
				case err == nil:
					if saved.Version != from.Version+1 {
						t.Errorf("a save from version %d stored version %d", from.Version, saved.Version)
					}
					mu.Lock()
					winners[saved.Version] = append(winners[saved.Version], memo)
					mu.Unlock()
					for v := won.Load(); v < saved.Version && !won.CompareAndSwap(v, saved.Version); v = won.Load() {
					}
				case services.ErrorCode(err) == services.Aborted:
				default:
					t.Errorf("save: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-readerDone

	last := won.Load()
	for v := int64(2); v <= last; v++ {
		if len(winners[v]) != 1 {
			t.Errorf("version %d won by %d saves %v, want 1", v, len(winners[v]), winners[v])
		}
	}
	if int64(len(winners)) != last-1 {
		t.Errorf("%d versions won, but the newest is %d", len(winners), last)
	}
	got, err := repo.Get(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != last || got.Details.GetMemo() != winners[last][0] {
		t.Errorf("stored version %d by %q, want %d by %q", got.Version, got.Details.GetMemo(), last, winners[last])
	}
	// The current document itself has caught up: a process starting now
	// loads the last version won.
	all, err := repo.All(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("all: %d records, %v", len(all), err)
	}
	if all[0].Version != last {
		t.Errorf("loaded at start: version %d, want %d (rolled back)", all[0].Version, last)
	}
}

// TestStaffRepoRace races updates of one account from the same version:
// exactly one wins, the others are refused with Aborted, and the account
// shows the winner's change.
func TestStaffRepoRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.DB(t)
	if err := db.EnsureIndexes(ctx, mongo.StaffIndexes()); err != nil {
		t.Fatal(err)
	}
	repo := mongo.NewStaffRepo(db)
	now := time.Now()
	base := auth.Account{ID: "s1", Email: "desk@molar.test", DisplayName: "데스크", Roles: []molarv1.Role{molarv1.Role_ROLE_FRONT_DESK},
		PasswordHash: "x", Created: now, Updated: now, Version: 1}
	if err := repo.Create(ctx, base, audit.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := repo.SetLastLogin(ctx, "s1", now); err != nil {
		t.Fatal(err)
	}
	const writers = 20
	var wins, aborted atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := base
			a.DisplayName = fmt.Sprintf("writer %d", i)
			_, err := repo.Update(ctx, a, audit.Event{})
			switch {
			case err == nil:
				wins.Add(1)
				winner.Store(a.DisplayName)
			case services.ErrorCode(err) == services.Aborted:
				aborted.Add(1)
			default:
				t.Errorf("update: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || aborted.Load() != writers-1 {
		t.Fatalf("%d wins and %d aborted, want 1 and %d", wins.Load(), aborted.Load(), writers-1)
	}
	got, err := repo.Get(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.DisplayName != winner.Load() {
		t.Fatalf("account %q at version %d, want %q at 2", got.DisplayName, got.Version, winner.Load())
	}
	if !got.LastLogin.Equal(now.UTC().Truncate(time.Millisecond)) {
		t.Errorf("last sign-in %v lost by the update, want %v", got.LastLogin, now)
	}
	if _, err := repo.Update(ctx, auth.Account{ID: "nobody", Version: 1}, audit.Event{}); services.ErrorCode(err) != services.NotFound {
		t.Errorf("update of an unknown account: %v, want NotFound", err)
	}
}
