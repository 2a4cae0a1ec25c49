// Package metrics is what a Molar server tells Prometheus: its RPCs, open
// streams, database calls, background jobs, failed sign-ins, readiness and
// last backup, beside the Go runtime's and the process's own figures.
//
// Each server owns its registry (never the global one), so one process may
// run several. Every label takes its values from a fixed set known when
// the server starts (procedure names from the schema, Connect codes,
// operation names, job kinds and results); no label ever carries a value
// from a request, a patient or a person.
package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/jobs"
)

// Config says what a server's labels may take.
type Config struct {
	// Services are the schema's services the server answers; their
	// methods are the procedures RPC metrics are labelled with.
	Services []protoreflect.ServiceDescriptor
	// JobKinds are the kinds of background job the server runs.
	JobKinds []string
}

// Metrics is one server's registry and the instruments that feed it. A nil
// *Metrics (metrics turned off) accepts every call and records nothing.
type Metrics struct {
	reg *prometheus.Registry

	procedures map[string]procedure
	// series caches each procedure's series, made on its first call.
	series sync.Map // procedure path → *rpcSeries

	rpcRequests *prometheus.CounterVec
	rpcErrors   *prometheus.CounterVec
	rpcDuration *prometheus.HistogramVec
	streamsOpen *prometheus.GaugeVec

	dbDuration *prometheus.HistogramVec
	dbErrors   *prometheus.CounterVec

	jobKinds    map[string]bool
	jobDuration *prometheus.HistogramVec

	signInFailures *prometheus.CounterVec
	lockouts       prometheus.Counter

	backupLast prometheus.Gauge
}

// New makes a server's metrics on a registry of their own, with the Go
// runtime's and the process's collectors.
func New(cfg Config) *Metrics {
	m := &Metrics{
		reg:        prometheus.NewRegistry(),
		procedures: map[string]procedure{},
		jobKinds:   map[string]bool{},
		rpcRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molar_rpc_requests_total",
			Help: "RPCs answered, by procedure and Connect code (streams counted when they end).",
		}, []string{"service", "method", "code"}),
		rpcErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molar_rpc_errors_total",
			Help: "RPCs answered with an error, by procedure and Connect code.",
		}, []string{"service", "method", "code"}),
		rpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "molar_rpc_duration_seconds",
			Help:    "Time to answer a unary RPC, from the request read to the answer, by procedure.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"service", "method"}),
		streamsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "molar_rpc_streams_open",
			Help: "Server streams open now (WatchSchedule, WatchImages and the like), by procedure.",
		}, []string{"service", "method"}),
		dbDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "molar_db_operation_duration_seconds",
			Help:    "Time spent in the database per call, by engine and operation (SQLite statement kind, MongoDB command name).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"engine", "operation"}),
		dbErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molar_db_operation_errors_total",
			Help: "Database calls that failed, by engine and operation.",
		}, []string{"engine", "operation"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "molar_job_duration_seconds",
			Help:    "Time one attempt of a background job ran, by kind and result.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"kind", "result"}),
		signInFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "molar_signin_failures_total",
			Help: "Failed password checks (sign-in and password change), by reason.",
		}, []string{"reason"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "molar_account_lockouts_total",
			Help: "Failed password checks that locked an account.",
		}),
		backupLast: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "molar_backup_last_success_timestamp_seconds",
			Help: "When the last backup this process knows of succeeded (Unix time); 0 until one is known.",
		}),
	}
	for _, sd := range cfg.Services {
		methods := sd.Methods()
		for i := range methods.Len() {
			md := methods.Get(i)
			m.procedures["/"+string(sd.FullName())+"/"+string(md.Name())] = procedure{
				service: string(sd.FullName()), method: string(md.Name()), streams: md.IsStreamingServer() || md.IsStreamingClient(),
			}
		}
	}
	for _, k := range cfg.JobKinds {
		m.jobKinds[k] = true
	}
	// The failure counters start at zero for every reason, so a rate is
	// defined before the first failure.
	for _, r := range auth.FailureReasons {
		m.signInFailures.WithLabelValues(string(r))
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.rpcRequests, m.rpcErrors, m.rpcDuration, m.streamsOpen,
		m.dbDuration, m.dbErrors, m.jobDuration,
		m.signInFailures, m.lockouts, m.backupLast,
	)
	return m
}

// State is what is read from the database at each scrape.
type State struct {
	// Ready says whether the server can answer (its database does).
	Ready func(context.Context) error
	// JobQueue counts the background jobs in each state.
	JobQueue func(context.Context) (map[jobs.State]int, error)
}

// scrapeTimeout bounds what one scrape waits for the database.
const scrapeTimeout = 2 * time.Second

// Watch adds the figures read at each scrape: readiness (molar_ready) and
// the depth of the job queue (molar_job_queue_depth). Call it once, when
// the database is open.
func (m *Metrics) Watch(s State) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "molar_ready",
			Help: "1 when the server can answer (its database answers a ping), 0 when it cannot.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
			defer cancel()
			if s.Ready(ctx) != nil {
				return 0
			}
			return 1
		}),
		&queueCollector{depth: s.JobQueue, desc: prometheus.NewDesc("molar_job_queue_depth",
			"Background jobs in each state, read from the database (the queue every process shares).", []string{"state"}, nil)},
	)
}

// Handler serves the registry in the Prometheus exposition formats. A
// figure that cannot be read (a database down) is left out of the scrape;
// the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// BackupSucceeded records when a backup last succeeded, as
// molar_backup_last_success_timestamp_seconds.
func (m *Metrics) BackupSucceeded(at time.Time) {
	if m == nil {
		return
	}
	m.backupLast.Set(float64(at.UnixNano()) / 1e9)
}

// queueCollector reads the job queue's depth at each scrape.
type queueCollector struct {
	depth func(context.Context) (map[jobs.State]int, error)
	desc  *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	depth, err := c.depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range jobs.States {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(depth[s]), s.String())
	}
}
