package metrics

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/jobs"
)

// DBCall returns what an engine calls after each database call it makes:
// op names the operation (one of ops; anything else counts as "other"),
// took is the time spent in the database, err its failure.
func (m *Metrics) DBCall(engine string, ops []string) func(ctx context.Context, op string, took time.Duration, err error) {
	if m == nil {
		return nil
	}
	type series struct {
		took prometheus.Observer
		errs prometheus.Counter
	}
	// Every operation's series exists from the start, and the map is only
	// read from then on.
	known := map[string]series{}
	for _, op := range append(slices.Clone(ops), "other") {
		known[op] = series{m.dbDuration.WithLabelValues(engine, op), m.dbErrors.WithLabelValues(engine, op)}
	}
	return func(_ context.Context, op string, took time.Duration, err error) {
		s, ok := known[op]
		if !ok {
			s = known["other"]
		}
		s.took.Observe(took.Seconds())
		if err != nil {
			s.errs.Inc()
		}
	}
}

// JobEnded records one attempt of a background job.
func (m *Metrics) JobEnded(o jobs.Outcome) {
	if m == nil {
		return
	}
	kind := o.Job.Kind
	if !m.jobKinds[kind] {
		kind = "other"
	}
	m.jobDuration.WithLabelValues(kind, o.Result.String()).Observe(o.Duration.Seconds())
}

var _ auth.Observer = (*Metrics)(nil)

// PasswordCheckFailed implements auth.Observer.
func (m *Metrics) PasswordCheckFailed(r auth.FailureReason) {
	if m == nil {
		return
	}
	if !slices.Contains(auth.FailureReasons, r) {
		r = "other"
	}
	m.signInFailures.WithLabelValues(string(r)).Inc()
}

// AccountLocked implements auth.Observer.
func (m *Metrics) AccountLocked() {
	if m == nil {
		return
	}
	m.lockouts.Inc()
}
