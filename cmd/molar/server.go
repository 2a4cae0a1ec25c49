package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/rs/cors"

	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/backup"
	"github.com/molar-dental/molar/services/billing"
	"github.com/molar-dental/molar/services/chart"
	"github.com/molar-dental/molar/services/clinic"
	"github.com/molar-dental/molar/services/images"
	"github.com/molar-dental/molar/services/jobs"
	"github.com/molar-dental/molar/services/metrics"
	"github.com/molar-dental/molar/services/patient"
	"github.com/molar-dental/molar/services/reports"
	"github.com/molar-dental/molar/services/schedule"
	"github.com/molar-dental/molar/services/tracing"
	"github.com/molar-dental/molar/ui"
)

// Server is the whole product on one port: the API, health, and the web app.
type Server struct {
	cfg    Config
	logger *slog.Logger
	db     *database
	app    *app
	ln     net.Listener
	http   *http.Server
	// base is the context of everything the server runs; stop ends it, and
	// with it long-lived streams and the background loops in wg.
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	// uploads serves the resumable uploads of images.
	uploads *images.Uploads
	// backups answers the owner's backup screen; backupJobs, when
	// MOLAR_BACKUP_DIR is set, takes the scheduled backups.
	backups    *backup.Service
	backupJobs *jobs.Runner
	// metrics are served by admin on MOLAR_ADMIN_ADDR; both nil when it
	// is off.
	metrics *metrics.Metrics
	admin   *adminServer
	// tracing exports traces when the OpenTelemetry environment asks for
	// them; reports sends error reports when MOLAR_SENTRY_DSN is set (nil
	// when not).
	tracing *tracing.Tracing
	reports *reports.Reporter
}

// start brings the in-memory state up from the database and starts the
// process's one background loop (and, on MongoDB, the change stream that
// wakes it). Nothing is started unless everything before it worked.
func (s *Server) start(ctx context.Context) error {
	a, db := s.app, s.db
	if err := recoverAudit(ctx, db, a.audit); err != nil {
		s.logger.Warn("audit events of earlier changes not all projected; they stay pending", "error", err.Error())
	}
	if err := a.revocations.Sync(ctx); err != nil {
		s.logger.Warn("session revocations not loaded", "error", err.Error())
	}
	if db.reap != nil {
		if err := db.reap(ctx); err != nil {
			s.logger.Warn("claims of operations that never committed not all freed; the sweep tries again", "error", err.Error())
		}
	}
	// Where the change log stands before anything is loaded: a change made
	// while loading is then followed, not missed.
	log, err := a.changes.reader(ctx)
	if err != nil {
		return err
	}
	if err := a.patients.Load(ctx); err != nil {
		return err
	}
	if err := db.prepare(ctx, a); err != nil {
		return err
	}
	if err := a.startBilling(ctx); err != nil {
		return err
	}
	if err := a.schedule.Start(ctx); err != nil {
		return err
	}
	if err := a.schedule.Recover(ctx); err != nil {
		s.logger.Warn("schedule recovery incomplete; it runs again every minute", "error", err.Error())
	}
	c, err := db.commits(ctx)
	if err != nil {
		return err
	}
	s.base, s.stop = context.WithCancel(context.Background())
	if c.stream != nil {
		s.wg.Go(func() { c.stream(s.base, a.poke) })
	}
	s.wg.Go(func() {
		defer c.close()
		a.run(s.base, log, c)
	})
	if err := a.images.Sweep(ctx); err != nil {
		s.logger.Warn("thumbnail jobs not all queued; the sweep tries again", "error", err.Error())
	}
	a.jobs.Start()
	s.startBackups(ctx)
	return nil
}

// NewServer opens the database, ensures its indexes and listens on cfg.Addr.
// Serve starts answering.
func NewServer(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	m, err := newMetrics(cfg)
	if err != nil {
		return nil, err
	}
	tr, rep, err := startTelemetry(ctx, cfg)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			stopTelemetry(context.Background(), tr, rep)
		}
	}()
	db, err := openObservedDatabase(ctx, cfg, logger, m, tr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		db.close(context.Background())
		return nil, fmt.Errorf("MOLAR_ADDR: %w", err)
	}
	a, err := newObservedApp(cfg, db, logger, time.Now, m)
	if err != nil {
		ln.Close()
		db.close(context.Background())
		return nil, err
	}
	s := &Server{cfg: cfg, logger: logger, db: db, app: a, ln: ln, metrics: m, tracing: tr, reports: rep}
	if err := s.start(ctx); err != nil {
		ln.Close()
		db.close(context.Background())
		return nil, err
	}
	base := s.base
	handler, err := s.routes()
	if err == nil {
		err = s.listenAdmin()
	}
	if err != nil {
		s.stop()
		s.wg.Wait()
		ln.Close()
		db.close(context.Background())
		return nil, err
	}

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Handler:           handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: they would cut server streams and
		// slow uploads. Idle connections and header reads are bounded.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		BaseContext:    func(net.Listener) context.Context { return base },
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	started = true
	return s, nil
}

// routes wires every handler; the order of middleware matters: the request id
// comes first so that everything after it can log it. Every answer is
// nosniff; the API's are no-store unless a handler sets its own caching,
// and the web app's carry its security headers (ui.SecurityHeaders).
func (s *Server) routes() (http.Handler, error) {
	access := auth.NewInterceptor(auth.SchemaRules(), s.app.tokens, s.app.revocations, s.app.audit, s.cfg.Proxies)
	opts, err := s.handlerOptions(access)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	// handle adds an API route: its answers are not stored by any cache
	// unless the handler says otherwise, and are compressed with zstd for
	// callers that accept it among others.
	handle := func(pattern string, h http.Handler) { mux.Handle(pattern, noStore(preferZstd(h))) }
	handle(molarv1connect.NewClinicServiceHandler(
		clinic.NewHandler(s.app.clinic, s.app.audit), opts...))
	handle(molarv1connect.NewScheduleServiceHandler(schedule.NewHandler(s.app.schedule), opts...))
	handle(molarv1connect.NewBillingServiceHandler(billing.NewHandler(s.app.billing), opts...))
	handle(molarv1connect.NewAuthServiceHandler(
		auth.NewHandler(s.app.auth, s.cfg.AllowedOrigins, s.cfg.Profile == "dev"), append(opts, auth.HandlerOptions()...)...))
	handle(molarv1connect.NewStaffServiceHandler(auth.NewStaffHandler(s.app.auth), opts...))
	handle(molarv1connect.NewAuditServiceHandler(audit.NewHandler(s.db.audit, auditNames{accounts: s.db.accounts, patients: s.app.patients}), opts...))
	handle(molarv1connect.NewPatientServiceHandler(patient.NewHandler(s.app.patients), opts...))
	chartHandler := chart.NewHandler(s.app.chart)
	handle(molarv1connect.NewChartServiceHandler(chartHandler, opts...))
	catalogPath, catalogHandler := molarv1connect.NewCatalogServiceHandler(chartHandler, opts...)
	handle(catalogPath, s.notModified(molarv1connect.CatalogServiceListProceduresProcedure, s.app.chart.CatalogETag, catalogHandler))

	handle(molarv1connect.NewBackupServiceHandler(backup.NewHandler(s.backups), opts...))
	handle(molarv1connect.NewImageServiceHandler(images.NewHandler(s.app.images, s.db.jobs), opts...))
	// Uploads are checked as UpdateImage is: the same sign-in and permission.
	uploads, err := images.NewUploads(s.app.images, func(r *http.Request) (context.Context, error) {
		return access.AuthorizeHTTP(r, molarv1connect.ImageServiceUpdateImageProcedure)
	}, filepath.Join(s.cfg.DataDir, "uploads"), s.logger)
	if err != nil {
		return nil, err
	}
	// Uploads and image links are served outside Connect: a panic in them
	// is recovered, logged and reported as an RPC's is.
	report := s.reports.Internal
	handle(images.UploadPath, services.RecoverHTTP(uploads, "uploads", s.logger, report))
	s.uploads = uploads
	s.wg.Go(func() { s.finishUploads(uploads) })
	handle(images.MediaPath, services.RecoverHTTP(images.MediaHandler(s.app.images), "media", s.logger, report))

	reflector := grpcreflect.NewStaticReflector(append(serviceNames(), grpchealth.HealthV1ServiceName)...)
	handle(grpcreflect.NewHandlerV1(reflector))
	handle(grpcreflect.NewHandlerV1Alpha(reflector))
	handle(grpchealth.NewHandler(&dbChecker{db: s.db}))

	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	// The API's OpenAPI document, which the web app's /docs shows.
	doc, err := apiDocument()
	if err != nil {
		return nil, err
	}
	mux.Handle("GET "+apiDocumentPath, doc)
	// Metrics are served on the admin listener only; here the path is not
	// found rather than the web app's page.
	mux.Handle("/metrics", http.NotFoundHandler())
	mux.Handle("/", ui.Handler(s.uiOptions()...))

	c := cors.New(cors.Options{
		AllowedOrigins: s.cfg.AllowedOrigins,
		AllowedMethods: append(connectcors.AllowedMethods(), http.MethodPatch, http.MethodHead, http.MethodDelete),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization", services.RequestIDHeader, "Traceparent", "Tracestate",
			"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Defer-Length", "Upload-Concat"),
		ExposedHeaders: append(connectcors.ExposedHeaders(), services.RequestIDHeader,
			"Location", "Tus-Resumable", "Tus-Version", "Tus-Max-Size", "Tus-Extension", "Upload-Offset", "Upload-Length", "Molar-Image-Id"),
		AllowCredentials: true,
		MaxAge:           7200,
	})
	return services.WithRequestID(nosniff(bodyDeadline(c.Handler(mux), cmp.Or(s.cfg.BodyTimeout, 30*time.Second)))), nil
}

// serviceNames lists the Molar services this server answers, for reflection.
func serviceNames() []string {
	return []string{
		molarv1connect.ClinicServiceName,
		molarv1connect.AuthServiceName,
		molarv1connect.StaffServiceName,
		molarv1connect.AuditServiceName,
		molarv1connect.PatientServiceName,
		molarv1connect.ChartServiceName,
		molarv1connect.CatalogServiceName,
		molarv1connect.ScheduleServiceName,
		molarv1connect.BillingServiceName,
		molarv1connect.ImageServiceName,
		molarv1connect.BackupServiceName,
	}
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return s.db.ping(ctx)
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers requests until Shutdown.
func (s *Server) Serve() error {
	go s.serveAdmin()
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, ends streams, waits for requests in flight (up to
// ctx) and for the background loops, then closes the database.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	err := errors.Join(s.http.Shutdown(ctx), s.shutdownAdmin(ctx))
	s.stopBackups()
	if cerr := s.app.jobs.Close(); cerr != nil {
		s.logger.Warn("background jobs not stopped cleanly", "error", cerr.Error())
	}
	s.wg.Wait()
	s.db.close(ctx)
	stopTelemetry(ctx, s.tracing, s.reports)
	return err
}

// finishUploads makes, at start and every sweep, the images of uploads
// whose last byte arrived but whose image a stopped process never saved
// (as their uploaders), and deletes partial uploads abandoned for a week.
func (s *Server) finishUploads(u *images.Uploads) {
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		now := time.Now()
		n, err := u.FinishAbandoned(s.base, now.Add(-time.Minute), now.Add(-7*24*time.Hour))
		if n > 0 {
			s.logger.Info("images of uploads a stopped process left unsaved saved", "images", n)
		}
		if err != nil && s.base.Err() == nil {
			s.logger.Warn("uploads left by a stopped process not all finished", "error", err.Error())
		}
		select {
		case <-s.base.Done():
			return
		case <-tick.C:
		}
	}
}

// dbChecker reports grpc.health.v1 status from a database ping.
type dbChecker struct {
	db *database
}

// Check implements grpchealth.Checker.
func (c *dbChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	known := req.Service == "" || req.Service == grpchealth.HealthV1ServiceName
	for _, n := range serviceNames() {
		known = known || req.Service == n
	}
	if !known {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %q", req.Service))
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.db.ping(ctx); err != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

// notModified answers a conditional GET of procedure with 304 when the
// caller's copy (If-None-Match) is current and the caller may read it; any
// other request goes on to next, which sets the ETag.
func (s *Server) notModified(procedure string, etag func(context.Context) (string, error), next http.Handler) http.Handler {
	check := auth.NewInterceptor(auth.SchemaRules(), s.app.tokens, s.app.revocations, s.app.audit, s.cfg.Proxies)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == procedure {
			if inm := r.Header.Get("If-None-Match"); inm != "" {
				if tag, err := etag(r.Context()); err == nil && inm == tag && check.Authenticate(r.Context(), procedure, r.RemoteAddr, r.Header) == nil {
					w.Header().Set("ETag", tag)
					w.Header().Set("Cache-Control", "private, no-cache")
					w.WriteHeader(http.StatusNotModified)
					s.logger.LogAttrs(r.Context(), slog.LevelInfo, "rpc", slog.String("procedure", procedure), slog.String("protocol", "connect"),
						slog.String("code", "not_modified"), slog.String("request_id", services.RequestID(r.Context())))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
