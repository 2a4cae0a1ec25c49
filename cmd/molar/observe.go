package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/validate"

	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/reports"
	"github.com/molar-dental/molar/services/tracing"
	"github.com/molar-dental/molar/ui"
)

// startTelemetry starts what tells of the server outside it: traces when
// the process's OpenTelemetry environment names a collector (read there,
// as the OpenTelemetry SDK reads the rest of it), error reports when
// MOLAR_SENTRY_DSN is set. Each is off otherwise.
func startTelemetry(ctx context.Context, cfg Config) (*tracing.Tracing, *reports.Reporter, error) {
	build := currentBuild()
	tr, err := tracing.New(ctx, os.Getenv, tracing.Build{Version: build.Version, Environment: cfg.Profile})
	if err != nil {
		return nil, nil, err
	}
	rep, err := reports.New(reports.Options{DSN: cfg.SentryDSN, Release: "molar@" + build.Version, Environment: cfg.Profile})
	if err != nil {
		_ = tr.Shutdown(ctx)
		return nil, nil, err
	}
	return tr, rep, nil
}

// stopTelemetry sends the spans and reports not yet sent, waiting up to
// ctx, and stops.
func stopTelemetry(ctx context.Context, tr *tracing.Tracing, rep *reports.Reporter) {
	_ = tr.Shutdown(ctx)
	rep.Close()
}

// uiOptions are how the web app is served: with the browser's error
// reports when MOLAR_SENTRY_BROWSER_DSN is set.
func (s *Server) uiOptions() []ui.Option {
	if s.cfg.SentryBrowserDSN == "" {
		return nil
	}
	return []ui.Option{ui.WithErrorReports(s.cfg.SentryBrowserDSN, "molar@"+currentBuild().Version, s.cfg.Profile)}
}

// handlerOptions are the options of every Connect handler the server
// mounts, access being the sign-in and permission check: the interceptors
// in order, outermost first, then the limits on messages and compression.
func (s *Server) handlerOptions(access *auth.Interceptor) ([]connect.HandlerOption, error) {
	traced, err := s.tracing.Interceptor()
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	var report []services.RPCOption
	if s.reports != nil {
		report = append(report, services.ReportInternal(s.reports.Internal))
	}
	return []connect.HandlerOption{
		connect.WithInterceptors(
			// The span covers the whole call, and its context reaches
			// every log line of it. Metrics see the code the caller gets,
			// after the next one maps errors (and reports internal ones).
			traced,
			s.metrics.Interceptor(),
			services.NewRPCInterceptor(s.logger, report...),
		),
		// A panic in anything below becomes an internal error, for its
		// caller alone: logged, reported, and the server goes on.
		connect.WithRecover(services.Recover),
		connect.WithInterceptors(
			access,
			auth.NewLimits(auth.SchemaRules()),
			validate.NewInterceptor(),
		),
		connect.WithReadMaxBytes(s.cfg.MaxRequestBytes),
		connect.WithCompressMinBytes(1024),
		// Answers over 1 KiB go out in zstd to callers that accept it, else gzip.
		zstdCompression(),
	}, nil
}

// sqliteObserver tells each of observers, those that are not nil, of every
// SQLite call; nil when none is.
func sqliteObserver(observers ...sqlite.Observer) sqlite.Observer {
	var on []sqlite.Observer
	for _, o := range observers {
		if o != nil {
			on = append(on, o)
		}
	}
	switch len(on) {
	case 0:
		return nil
	case 1:
		return on[0]
	}
	return func(ctx context.Context, op string, took time.Duration, err error) {
		for _, o := range on {
			o(ctx, op, took, err)
		}
	}
}

// sqliteSpans is tracing's observer of SQLite's statements (which name no
// table it is told of); nil with traces off.
func sqliteSpans(t *tracing.Tracing) sqlite.Observer {
	span := t.DBCall("sqlite")
	if span == nil {
		return nil
	}
	return func(ctx context.Context, op string, took time.Duration, err error) { span(ctx, op, "", took, err) }
}
