package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/jobs"
)

// Jobs is what an engine gives the job queue: a fresh, empty database's
// store, dropped when the test ends.
type Jobs struct {
	Store jobs.Store
	// Reopen returns a new store on the same database, as the next process
	// after a restart opens it.
	Reopen func(t *testing.T) jobs.Store
}

// JobsEngine opens a fresh Jobs for a test.
type JobsEngine func(t *testing.T) Jobs

// TestJobs runs the job queue contract against an engine.
func TestJobs(t *testing.T, open JobsEngine) {
	for name, test := range map[string]func(*testing.T, Jobs){
		"enqueue is idempotent":              jobsEnqueueIdempotent,
		"claims in order of due time":        jobsClaimOrder,
		"racing claims take each job once":   jobsClaimRace,
		"an expired lease passes on":         jobsLeaseExpiry,
		"the old holder races the new claim": jobsOldHolderRace,
		"failure backs off":                  jobsFailBackOff,
		"dead after max attempts, retried":   jobsDeadAndRetry,
		"a restart sees every job":           jobsRestart,
		"depth counts states":                jobsDepth,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open(t))
		})
	}
}

// jobsNow is the clock of the job tests.
var jobsNow = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const jobLease = time.Minute

func enqueueJobs(t *testing.T, s jobs.Store, js ...jobs.Job) {
	t.Helper()
	for _, j := range js {
		if err := s.Enqueue(context.Background(), j); err != nil {
			t.Fatalf("enqueue %s: %v", j.ID, err)
		}
	}
}

func claimJob(t *testing.T, s jobs.Store, worker string, at time.Time) *jobs.Job {
	t.Helper()
	j, err := s.Claim(context.Background(), worker, []string{"thumbnail", "other"}, at, jobLease)
	if err != nil {
		t.Fatalf("claim by %s: %v", worker, err)
	}
	return j
}

func mustClaim(t *testing.T, s jobs.Store, worker string, at time.Time) jobs.Job {
	t.Helper()
	j := claimJob(t, s, worker, at)
	if j == nil {
		t.Fatalf("claim by %s at %s: nothing due", worker, at.Format(time.TimeOnly))
	}
	return *j
}

func wantCode(t *testing.T, what string, err error, code services.Code) {
	t.Helper()
	if services.ErrorCode(err) != code || err == nil {
		t.Fatalf("%s: got %v, want code %d", what, err, code)
	}
}

func listJobs(t *testing.T, s jobs.Store, state jobs.State) []jobs.Job {
	t.Helper()
	js, err := s.List(context.Background(), state, 100)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func jobIDs(js []jobs.Job) []string {
	ids := []string{}
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	return ids
}

// jobsEnqueueIdempotent: enqueueing an id again leaves the job as it is,
// queued or running; a job without an id or kind is refused.
func jobsEnqueueIdempotent(t *testing.T, e Jobs) {
	ctx := context.Background()
	s := e.Store
	first := jobs.New("thumbnail:img-1", "thumbnail", []byte("first"), jobsNow)
	enqueueJobs(t, s, first, jobs.New("thumbnail:img-1", "thumbnail", []byte("second"), jobsNow.Add(time.Hour)))
	got := listJobs(t, s, jobs.Queued)
	want, _ := first.Normalized()
	if diff := cmp.Diff([]jobs.Job{want}, got); diff != "" {
		t.Fatalf("after enqueueing twice (-want +got):\n%s", diff)
	}
	claimed := mustClaim(t, s, "w1", jobsNow)
	enqueueJobs(t, s, first)
	if got := listJobs(t, s, jobs.Running); len(got) != 1 || got[0].Worker != "w1" || got[0].Attempts != 1 {
		t.Fatalf("enqueue of a running job changed it: %+v (claimed %+v)", got, claimed)
	}
	if q := listJobs(t, s, jobs.Queued); len(q) != 0 {
		t.Fatalf("queued %v after enqueueing a running job again", jobIDs(q))
	}
	wantCode(t, "enqueue without kind", s.Enqueue(ctx, jobs.Job{ID: "x", CreateTime: jobsNow}), services.Invalid)
}

// jobsClaimOrder: due jobs come earliest first, a job not yet due and a
// job of a kind not asked for do not come at all.
func jobsClaimOrder(t *testing.T, e Jobs) {
	s := e.Store
	at := func(id string, d time.Duration) jobs.Job {
		j := jobs.New(id, "thumbnail", nil, jobsNow)
		j.RunAt = jobsNow.Add(d)
		return j
	}
	foreign := jobs.New("foreign", "report", nil, jobsNow)
	enqueueJobs(t, s, at("c", 2*time.Second), at("a", 0), at("b", time.Second), at("later", time.Hour), foreign)
	var got []string
	for {
		j := claimJob(t, s, "w", jobsNow.Add(time.Minute))
		if j == nil {
			break
		}
		if j.State != jobs.Running || j.Worker != "w" || j.Attempts != 1 || !j.LeaseUntil.Equal(jobsNow.Add(time.Minute+jobLease)) {
			t.Fatalf("claimed %+v", *j)
		}
		got = append(got, j.ID)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, got); diff != "" {
		t.Fatalf("claim order (-want +got):\n%s", diff)
	}
}

// jobsClaimRace races 20 claimers over 10 jobs: each job is claimed once.
func jobsClaimRace(t *testing.T, e Jobs) {
	s := e.Store
	const n, workers = 10, 20
	for i := range n {
		enqueueJobs(t, s, jobs.New(fmt.Sprintf("job-%02d", i), "thumbnail", nil, jobsNow))
	}
	var mu sync.Mutex
	claimedBy := map[string][]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("w%02d", w)
			for {
				j, err := s.Claim(context.Background(), worker, []string{"thumbnail"}, jobsNow, jobLease)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				claimedBy[j.ID] = append(claimedBy[j.ID], worker)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimedBy) != n {
		t.Errorf("%d jobs claimed, want %d", len(claimedBy), n)
	}
	for id, ws := range claimedBy {
		if len(ws) != 1 {
			t.Errorf("job %s claimed by %v", id, ws)
		}
	}
	for _, j := range listJobs(t, s, jobs.Running) {
		if ws := claimedBy[j.ID]; len(ws) != 1 || ws[0] != j.Worker || j.Attempts != 1 {
			t.Errorf("job %s held by %s (attempt %d), claimed by %v", j.ID, j.Worker, j.Attempts, ws)
		}
	}
}

// jobsLeaseExpiry: a lease that passes without a heartbeat hands the job to
// the next claimer, and the old holder can no longer renew, complete or
// fail it; a heartbeat keeps it.
func jobsLeaseExpiry(t *testing.T, e Jobs) {
	ctx := context.Background()
	s := e.Store
	enqueueJobs(t, s, jobs.New("j", "thumbnail", nil, jobsNow))
	mustClaim(t, s, "old", jobsNow)
	if j := claimJob(t, s, "new", jobsNow.Add(jobLease-time.Second)); j != nil {
		t.Fatalf("claimed %+v while its lease holds", *j)
	}
	if err := s.Heartbeat(ctx, "j", "old", jobsNow.Add(jobLease+30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if j := claimJob(t, s, "new", jobsNow.Add(jobLease+time.Second)); j != nil {
		t.Fatalf("claimed %+v within a renewed lease", *j)
	}
	taken := mustClaim(t, s, "new", jobsNow.Add(jobLease+30*time.Second))
	if taken.Attempts != 2 || taken.Worker != "new" {
		t.Fatalf("taken over: %+v", taken)
	}
	late := jobsNow.Add(2 * jobLease)
	wantCode(t, "old heartbeat", s.Heartbeat(ctx, "j", "old", late), services.FailedPrecondition)
	wantCode(t, "old complete", s.Complete(ctx, "j", "old", late), services.FailedPrecondition)
	wantCode(t, "old fail", s.Fail(ctx, "j", "old", "x", late, false, late), services.FailedPrecondition)
	wantCode(t, "unknown heartbeat", s.Heartbeat(ctx, "nope", "old", late), services.NotFound)
	if err := s.Heartbeat(ctx, "j", "new", late.Add(jobLease)); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "j", "new", late); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "complete twice", s.Complete(ctx, "j", "new", late), services.FailedPrecondition)
	done := listJobs(t, s, jobs.Done)
	if len(done) != 1 || done[0].Attempts != 2 || !done[0].UpdateTime.Equal(late) {
		t.Fatalf("done: %+v", done)
	}
}

// jobsOldHolderRace: a holder whose lease passed completes its job just as
// another worker claims it: exactly one of them wins each job.
func jobsOldHolderRace(t *testing.T, e Jobs) {
	ctx := context.Background()
	s := e.Store
	const n = 10
	for i := range n {
		id := fmt.Sprintf("job-%02d", i)
		enqueueJobs(t, s, jobs.New(id, "thumbnail", nil, jobsNow))
		if j := mustClaim(t, s, "old-"+id, jobsNow); j.ID != id {
			t.Fatalf("claimed %s, want %s", j.ID, id)
		}
	}
	expired := jobsNow.Add(2 * jobLease)
	var wg sync.WaitGroup
	completed := make([]error, n)
	var mu sync.Mutex
	var stolen []string
	for i := range n {
		id := fmt.Sprintf("job-%02d", i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			completed[i] = s.Complete(ctx, id, "old-"+id, expired)
		}()
		go func() {
			defer wg.Done()
			j, err := s.Claim(ctx, "new-"+id, []string{"thumbnail"}, expired, jobLease)
			if err != nil {
				t.Errorf("claim: %v", err)
			}
			if j != nil {
				mu.Lock()
				stolen = append(stolen, j.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// A claimer that lost its own job may take another that expired: the
	// count that matters is, per job, one winner.
	won := map[string]int{}
	for i, err := range completed {
		id := fmt.Sprintf("job-%02d", i)
		if err == nil {
			won[id]++
		} else if services.ErrorCode(err) != services.FailedPrecondition {
			t.Errorf("complete %s: %v", id, err)
		}
	}
	for _, id := range stolen {
		won[id]++
	}
	for i := range n {
		id := fmt.Sprintf("job-%02d", i)
		if won[id] != 1 {
			t.Errorf("job %s had %d winners", id, won[id])
		}
	}
	d, err := s.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d[jobs.Done]+d[jobs.Running] != n || d[jobs.Running] != len(stolen) {
		t.Errorf("depth %v after %d stolen", d, len(stolen))
	}
}

// jobsFailBackOff: a failed attempt queues the job again for the time the
// worker asked, with its error.
func jobsFailBackOff(t *testing.T, e Jobs) {
	ctx := context.Background()
	s := e.Store
	enqueueJobs(t, s, jobs.New("j", "thumbnail", []byte("p"), jobsNow))
	mustClaim(t, s, "w1", jobsNow)
	retryAt := jobsNow.Add(40 * time.Second)
	if err := s.Fail(ctx, "j", "w1", "decoder said no", retryAt, false, jobsNow.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	q := listJobs(t, s, jobs.Queued)
	if len(q) != 1 || !q[0].RunAt.Equal(retryAt) || q[0].LastError != "decoder said no" || q[0].Attempts != 1 || q[0].Worker != "" {
		t.Fatalf("queued after failing: %+v", q)
	}
	if j := claimJob(t, s, "w2", retryAt.Add(-time.Millisecond)); j != nil {
		t.Fatalf("claimed %+v before its back-off ended", *j)
	}
	if j := mustClaim(t, s, "w2", retryAt); j.Attempts != 2 || string(j.Payload) != "p" {
		t.Fatalf("second attempt: %+v", j)
	}
}

// jobsDeadAndRetry: a job fails until dead (by its holder's word or by
// letting its last lease pass), is listed dead and claimed no more, and
// the owner's Retry queues it again from its first attempt.
func jobsDeadAndRetry(t *testing.T, e Jobs) {
	ctx := context.Background()
	s := e.Store
	failing := jobs.New("failing", "thumbnail", nil, jobsNow)
	failing.MaxAttempts = 2
	hanging := jobs.New("hanging", "thumbnail", nil, jobsNow.Add(time.Second))
	hanging.MaxAttempts = 1
	enqueueJobs(t, s, failing, hanging)

	mustClaim(t, s, "w1", jobsNow)
	if err := s.Fail(ctx, "failing", "w1", "one", jobsNow, false, jobsNow); err != nil {
		t.Fatal(err)
	}
	if j := mustClaim(t, s, "w2", jobsNow); j.ID != "failing" || j.Attempts != 2 {
		t.Fatalf("second attempt: %+v", j)
	}
	if err := s.Fail(ctx, "failing", "w2", "two", jobsNow, true, jobsNow); err != nil {
		t.Fatal(err)
	}
	if j := mustClaim(t, s, "w3", jobsNow.Add(time.Second)); j.ID != "hanging" {
		t.Fatalf("claimed %s, want hanging", j.ID)
	}
	// w3 stops; its lease passes; the next claim finds it has no attempt left.
	if j := claimJob(t, s, "w4", jobsNow.Add(time.Hour)); j != nil {
		t.Fatalf("claimed %+v, a job past its attempts", *j)
	}
	dead := listJobs(t, s, jobs.Dead)
	if diff := cmp.Diff([]string{"failing", "hanging"}, jobIDs(dead)); diff != "" {
		t.Fatalf("dead (-want +got):\n%s", diff)
	}
	if dead[0].LastError != "two" || dead[1].LastError == "" {
		t.Fatalf("dead jobs' errors: %q, %q", dead[0].LastError, dead[1].LastError)
	}

	wantCode(t, "retry unknown", s.Retry(ctx, "nope", jobsNow), services.NotFound)
	retried := jobsNow.Add(2 * time.Hour)
	if err := s.Retry(ctx, "failing", retried); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "retry a queued job", s.Retry(ctx, "failing", retried), services.FailedPrecondition)
	if j := mustClaim(t, s, "w5", retried); j.ID != "failing" || j.Attempts != 1 {
		t.Fatalf("after retry: %+v", j)
	}
	if d := listJobs(t, s, jobs.Dead); len(d) != 1 || d[0].ID != "hanging" {
		t.Fatalf("dead after retry: %v", jobIDs(d))
	}
}

// jobsRestart: a new store on the same database (the next process) sees
// queued and running jobs, and takes over a running one when its lease
// passes.
func jobsRestart(t *testing.T, e Jobs) {
	s := e.Store
	enqueueJobs(t, s, jobs.New("a", "thumbnail", []byte("A"), jobsNow), jobs.New("b", "thumbnail", []byte("B"), jobsNow.Add(time.Second)))
	mustClaim(t, s, "before", jobsNow)

	after := e.Reopen(t)
	if r := listJobs(t, after, jobs.Running); len(r) != 1 || r[0].ID != "a" || r[0].Worker != "before" {
		t.Fatalf("running after restart: %+v", r)
	}
	if q := listJobs(t, after, jobs.Queued); len(q) != 1 || q[0].ID != "b" || string(q[0].Payload) != "B" {
		t.Fatalf("queued after restart: %+v", q)
	}
	if j := mustClaim(t, after, "after", jobsNow.Add(time.Second)); j.ID != "b" {
		t.Fatalf("claimed %s, want b", j.ID)
	}
	if j := mustClaim(t, after, "after", jobsNow.Add(jobLease)); j.ID != "a" || j.Attempts != 2 || string(j.Payload) != "A" {
		t.Fatalf("took over %+v", j)
	}
}

// jobsDepth counts the jobs in each state.
func jobsDepth(t *testing.T, e Jobs) {
	ctx := context.Background()
	s := e.Store
	for i := range 4 {
		enqueueJobs(t, s, jobs.New(fmt.Sprintf("j%d", i), "thumbnail", nil, jobsNow.Add(time.Duration(i)*time.Second)))
	}
	for _, w := range []string{"w0", "w1", "w2"} {
		mustClaim(t, s, w, jobsNow.Add(time.Minute))
	}
	if err := s.Complete(ctx, "j0", "w0", jobsNow); err != nil {
		t.Fatal(err)
	}
	if err := s.Fail(ctx, "j1", "w1", "bad", jobsNow, true, jobsNow); err != nil {
		t.Fatal(err)
	}
	got, err := s.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[jobs.State]int{jobs.Done: 1, jobs.Dead: 1, jobs.Running: 1, jobs.Queued: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("depth (-want +got):\n%s", diff)
	}
}
