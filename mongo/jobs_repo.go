package mongo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/jobs"
)

// The job queue's collections.
const (
	// jobVersionCollection holds every version of every job, keyed by job
	// and version number: inserting the next version is the commit point
	// of each change of a job.
	jobVersionCollection = "job_versions"
	// jobCollection holds the newest version of each job, derived from the
	// versions, for the queries (due jobs, a state's list, depth).
	jobCollection = "jobs"
)

// JobRepo keeps the queue of background jobs.
//
// Each change of a job (enqueue, claim, heartbeat, completion, failure,
// retry) is decided by the rules of jobs.Job on the job's newest version n
// and committed by inserting version n+1, keyed "<id>|<n+1>". Of any
// number of processes deciding on version n, only the one whose insert
// lands wins; the others read again and decide again (a claim moves on to
// the next job). This is atomic on every engine, whereas a conditional
// update is not on FerretDB, which reads then writes: two claimers could
// both see "queued" and both write "running". A claim is therefore a
// version too, so of a claim after an expired lease and the old holder's
// heartbeat or completion, exactly one lands.
//
// The copy in jobs is brought up to the newest version after each commit.
// A version is inserted marked pending and the mark is cleared once the
// copy shows it; if the process stops in between, the copy lags (a job may
// not be claimable, or shows its old state) until the first claim of any
// process in the next minute re-projects every pending version (Recover).
// A crash just before an insert leaves the job as it was; just after, the
// change is made and only the copy may lag.
type JobRepo struct {
	versions, copies *driver.Collection

	mu        sync.Mutex
	recovered time.Time // when Claim last ran Recover, by its callers' clock
}

var _ jobs.Store = (*JobRepo)(nil)

// NewJobRepo returns a JobRepo on db.
func NewJobRepo(db *DB) *JobRepo { return newJobRepo(db.Database) }

func newJobRepo(d *driver.Database) *JobRepo {
	return &JobRepo{versions: d.Collection(jobVersionCollection), copies: d.Collection(jobCollection)}
}

// enqueueAfterCommit enqueues the jobs another repository's change calls
// for, right after that change committed (the MongoDB engine has no
// transaction to put both in). If the process stops between that commit
// and this call, the job is missing until the calling repository's
// recovery pass (the one that finds its changes still marked pending) calls
// this again: enqueueing is idempotent by the job's id, which is derived
// from the change, so calling it twice is harmless.
func enqueueAfterCommit(ctx context.Context, d *driver.Database, js ...jobs.Job) error {
	r := newJobRepo(d)
	for _, j := range js {
		if err := r.Enqueue(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// JobIndexes are the indexes JobRepo's queries need.
func JobIndexes() []Index {
	ix := ascendingIndex
	return []Index{
		// A job's newest version; versions not yet in the copy.
		ix(jobVersionCollection, "job_version", "job", "version"),
		ix(jobVersionCollection, "pending", "pending"),
		// Due jobs in order; a state's jobs in order.
		ix(jobCollection, "due", "due", "_id"),
		ix(jobCollection, "state_run_at", "state", "run_at", "_id"),
	}
}

// ascendingIndex is the index named name on coll over keys, each
// ascending.
func ascendingIndex(coll, name string, keys ...string) Index {
	var d bson.D
	for _, k := range keys {
		d = append(d, bson.E{Key: k, Value: 1})
	}
	return Index{Collection: coll, Model: driver.IndexModel{Keys: d, Options: options.Index().SetName(name)}}
}

// jobFields are the fields of a job, in both collections.
type jobFields struct {
	Kind        string     `bson:"kind"`
	Payload     []byte     `bson:"payload,omitempty"`
	State       string     `bson:"state"`
	Attempts    int        `bson:"attempts"`
	MaxAttempts int        `bson:"max_attempts"`
	RunAt       time.Time  `bson:"run_at"`
	LastError   string     `bson:"last_error,omitempty"`
	Worker      string     `bson:"worker,omitempty"`
	LeaseUntil  *time.Time `bson:"lease_until,omitempty"`
	// Due is when the job can next be claimed (jobs.Job.DueAt); absent once
	// it is done or dead.
	Due     *time.Time `bson:"due,omitempty"`
	Created time.Time  `bson:"created"`
	Updated time.Time  `bson:"updated"`
}

// jobVersionDoc is one version of a job: its insert is a commit.
type jobVersionDoc struct {
	Key     string    `bson:"_id"`
	ID      string    `bson:"job"`
	Version int64     `bson:"version"`
	Fields  jobFields `bson:",inline"`
	Pending bool      `bson:"pending,omitempty"`
}

// jobDoc is the copy of a job's newest version.
type jobDoc struct {
	ID      string    `bson:"_id"`
	Version int64     `bson:"version"`
	Fields  jobFields `bson:",inline"`
}

func jobVersionKey(id string, version int64) string { return fmt.Sprintf("%s|%012d", id, version) }

func jobFieldsOf(j jobs.Job) jobFields {
	return jobFields{Kind: j.Kind, Payload: j.Payload, State: j.State.String(), Attempts: j.Attempts, MaxAttempts: j.MaxAttempts,
		RunAt: ms(j.RunAt), LastError: j.LastError, Worker: j.Worker, LeaseUntil: optTime(ms(j.LeaseUntil)), Due: optTime(ms(j.DueAt())),
		Created: ms(j.CreateTime), Updated: ms(j.UpdateTime)}
}

func (f jobFields) job(id string) jobs.Job {
	j := jobs.Job{ID: id, Kind: f.Kind, Payload: f.Payload, State: jobs.ParseState(f.State), Attempts: f.Attempts, MaxAttempts: f.MaxAttempts,
		RunAt: f.RunAt.UTC(), LastError: f.LastError, Worker: f.Worker, CreateTime: f.Created.UTC(), UpdateTime: f.Updated.UTC()}
	if f.LeaseUntil != nil {
		j.LeaseUntil = f.LeaseUntil.UTC()
	}
	return j
}

// errJobMoved says another process committed the version this one meant to.
var errJobMoved = services.Errorf(services.Aborted, "the job changed meanwhile")

// commit inserts version of j, marked pending, then brings the copy up to
// date. errJobMoved if that version exists already (another process won).
func (r *JobRepo) commit(ctx context.Context, j jobs.Job, version int64) error {
	_, err := r.versions.InsertOne(ctx, jobVersionDoc{Key: jobVersionKey(j.ID, version), ID: j.ID, Version: version, Fields: jobFieldsOf(j), Pending: true})
	if driver.IsDuplicateKeyError(err) {
		return errJobMoved
	}
	if err != nil {
		return storeError(err, "job")
	}
	// Committed: a failure to project leaves the mark for Recover and is
	// not the caller's concern.
	_ = r.project(ctx, j.ID)
	return nil
}

// newest reads job id's newest version, the truth the copy derives from.
func (r *JobRepo) newest(ctx context.Context, id string) (jobVersionDoc, error) {
	var d jobVersionDoc
	err := r.versions.FindOne(ctx, bson.D{{Key: "job", Value: id}}, options.FindOne().SetSort(bson.D{{Key: "version", Value: -1}})).Decode(&d)
	return d, storeError(err, "job")
}

// project writes job id's newest version over its copy, then reads the
// newest again and repeats until it wrote the newest: a projector that
// wrote an older version over a newer one (the writes are not conditional)
// sees the newer one afterwards and writes it back. Then it clears the
// pending marks up to the version written.
func (r *JobRepo) project(ctx context.Context, id string) error {
	v, err := r.newest(ctx, id)
	if err != nil {
		return err
	}
	for range 10 {
		doc := jobDoc{ID: id, Version: v.Version, Fields: v.Fields}
		_, err := r.copies.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
		if driver.IsDuplicateKeyError(err) {
			continue // two first copies raced (an upsert reads, then inserts): the next round replaces
		}
		if err != nil {
			return storeError(err, "job")
		}
		again, err := r.newest(ctx, id)
		if err != nil {
			return err
		}
		if again.Version == v.Version {
			_, err := r.versions.UpdateMany(ctx, bson.D{{Key: "job", Value: id}, {Key: "pending", Value: true}, {Key: "version", Value: bson.D{{Key: "$lte", Value: v.Version}}}},
				bson.D{{Key: "$unset", Value: bson.D{{Key: "pending", Value: ""}}}})
			return storeError(err, "job mark")
		}
		v = again
	}
	return nil // changing faster than it can be copied: the writers of the newer versions copy them
}

// Recover brings the copy of every job with a pending version up to date:
// the pass after a process stopped between a commit and its copy. It is
// idempotent and safe beside other processes; Claim runs it once a minute.
func (r *JobRepo) Recover(ctx context.Context) error {
	ids, err := findAll(ctx, r.versions, bson.D{{Key: "pending", Value: true}}, "job versions", func(d jobVersionDoc) string { return d.ID })
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if err := r.project(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue implements jobs.Store: the insert of version 1 is the commit.
// An existing job is left as it is, but its copy is brought up to date (it
// may be the one a crash left behind).
func (r *JobRepo) Enqueue(ctx context.Context, j jobs.Job) error {
	j, err := j.Normalized()
	if err != nil {
		return err
	}
	if err := r.commit(ctx, j, 1); err == errJobMoved {
		return r.project(ctx, j.ID)
	} else if err != nil {
		return err
	}
	return nil
}

// claimBatch is how many due jobs a claim reads at once.
const claimBatch = 16

// Claim implements jobs.Store: it reads due jobs from the copy (index
// due), checks each against its newest version and commits the claim as
// the next version; a job another claimer took first is passed over.
func (r *JobRepo) Claim(ctx context.Context, worker string, kinds []string, now time.Time, lease time.Duration) (*jobs.Job, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	if r.recoverDue(now) {
		if err := r.Recover(ctx); err != nil {
			return nil, err
		}
	}
	tried := []string{}
	for {
		filter := bson.D{{Key: "due", Value: bson.D{{Key: "$lte", Value: ms(now)}}}, {Key: "kind", Value: bson.D{{Key: "$in", Value: kinds}}},
			{Key: "_id", Value: bson.D{{Key: "$nin", Value: tried}}}}
		ids, err := findAll(ctx, r.copies, filter, "jobs", func(d jobDoc) string { return d.ID },
			options.Find().SetSort(bson.D{{Key: "due", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(claimBatch))
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			tried = append(tried, id)
			v, err := r.newest(ctx, id)
			if err != nil {
				return nil, err
			}
			j := v.Fields.job(id)
			if !j.Due(now) {
				_ = r.project(ctx, id) // the copy lags
				continue
			}
			next := j.Claimed(worker, now, lease)
			switch err := r.commit(ctx, next, v.Version+1); {
			case err == errJobMoved:
				continue // another claimer, or the holder, was first
			case err != nil:
				return nil, err
			case next.State == jobs.Running:
				return &next, nil
			}
		}
		if len(ids) < claimBatch {
			return nil, nil
		}
	}
}

// recoverDue reports whether Claim should run Recover now: at its first
// call and then once a minute.
func (r *JobRepo) recoverDue(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.recovered.IsZero() && now.Sub(r.recovered) < time.Minute && now.After(r.recovered) {
		return false
	}
	r.recovered = now
	return true
}

// change decides on job id's newest version and commits the next one,
// deciding again on the newer version when another process won.
func (r *JobRepo) change(ctx context.Context, id string, decide jobs.Decision) error {
	for {
		v, err := r.newest(ctx, id)
		if err != nil {
			return err
		}
		next, err := decide(v.Fields.job(id))
		if err != nil {
			return err
		}
		if err := r.commit(ctx, next, v.Version+1); err != errJobMoved {
			return err
		}
	}
}

// Heartbeat implements jobs.Store; the renewal is a version like any
// change, so it and a claim after the lease passed cannot both land.
func (r *JobRepo) Heartbeat(ctx context.Context, id, worker string, until time.Time) error {
	return r.change(ctx, id, jobs.Renew(worker, until))
}

// Complete implements jobs.Store.
func (r *JobRepo) Complete(ctx context.Context, id, worker string, now time.Time) error {
	return r.change(ctx, id, jobs.Complete(worker, now))
}

// Fail implements jobs.Store.
func (r *JobRepo) Fail(ctx context.Context, id, worker, msg string, retryAt time.Time, dead bool, now time.Time) error {
	return r.change(ctx, id, jobs.Fail(worker, msg, retryAt, dead, now))
}

// Retry implements jobs.Store.
func (r *JobRepo) Retry(ctx context.Context, id string, now time.Time) error {
	return r.change(ctx, id, jobs.Retry(now))
}

// List implements jobs.Store from the copy (index state_run_at).
func (r *JobRepo) List(ctx context.Context, state jobs.State, limit int) ([]jobs.Job, error) {
	return findAll(ctx, r.copies, bson.D{{Key: "state", Value: state.String()}}, "jobs", func(d jobDoc) jobs.Job { return d.Fields.job(d.ID) },
		options.Find().SetSort(bson.D{{Key: "run_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
}

// Depth implements jobs.Store from the copy (index state_run_at).
func (r *JobRepo) Depth(ctx context.Context) (map[jobs.State]int, error) {
	out := map[jobs.State]int{}
	for _, s := range jobs.States {
		n, err := r.copies.CountDocuments(ctx, bson.D{{Key: "state", Value: s.String()}})
		if err != nil {
			return nil, storeError(err, "jobs")
		}
		if n > 0 {
			out[s] = int(n)
		}
	}
	return out, nil
}
