package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/molar-dental/molar/services/images"
	"github.com/molar-dental/molar/services/metrics"
)

// defaultAdminAddr is MOLAR_ADMIN_ADDR's default: the admin listener is
// reachable from this machine only.
const defaultAdminAddr = "127.0.0.1:9464"

// parseAdminAddr checks MOLAR_ADMIN_ADDR: off, or host:port on another
// port than the public listener's (public), so that metrics are never
// served where the app is. Off is "".
func parseAdminAddr(spec, public string) (string, error) {
	if strings.EqualFold(spec, "off") {
		return "", nil
	}
	_, port, err := net.SplitHostPort(spec)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port or off: %v", spec, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if _, publicPort, err := net.SplitHostPort(public); err == nil && n != 0 && port == publicPort {
		return "", fmt.Errorf("port %s is MOLAR_ADDR's: metrics are never served on the public port", port)
	}
	return spec, nil
}

// newMetrics makes the server's metrics, labelled with the procedures of
// the services it answers and the kinds of job it runs; nil when
// MOLAR_ADMIN_ADDR is off.
func newMetrics(cfg Config) (*metrics.Metrics, error) {
	if cfg.AdminAddr == "" {
		return nil, nil
	}
	var sds []protoreflect.ServiceDescriptor
	for _, name := range serviceNames() {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, fmt.Errorf("metrics: service %s: %w", name, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, fmt.Errorf("metrics: %s is not a service", name)
		}
		sds = append(sds, sd)
	}
	return metrics.New(metrics.Config{Services: sds, JobKinds: []string{images.JobKind}}), nil
}

// adminServer is the listener on MOLAR_ADMIN_ADDR: Prometheus' /metrics
// beside /healthz and /readyz, for what watches the server from inside.
type adminServer struct {
	ln   net.Listener
	http *http.Server
}

// listenAdmin opens the admin listener when there are metrics to serve.
func (s *Server) listenAdmin() error {
	if s.metrics == nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("MOLAR_ADMIN_ADDR: %w", err)
	}
	s.logger.Info("metrics served", "admin_addr", ln.Addr().String(), "path", "/metrics")
	s.metrics.Watch(metrics.State{Ready: s.ping, JobQueue: s.db.jobs.Depth})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	s.admin = &adminServer{ln: ln, http: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}}
	return nil
}

// AdminAddr is the admin listener's address; "" when metrics are off.
func (s *Server) AdminAddr() string {
	if s.admin == nil {
		return ""
	}
	return s.admin.ln.Addr().String()
}

// serveAdmin answers on the admin listener until shutdownAdmin.
func (s *Server) serveAdmin() {
	if s.admin == nil {
		return
	}
	if err := s.admin.http.Serve(s.admin.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.logger.Error("admin listener stopped", "addr", s.AdminAddr(), "error", err.Error())
	}
}

// shutdownAdmin stops the admin listener, waiting for scrapes under way
// (up to ctx).
func (s *Server) shutdownAdmin(ctx context.Context) error {
	if s.admin == nil {
		return nil
	}
	err := s.admin.http.Shutdown(ctx)
	// A listener never served is closed here.
	_ = s.admin.ln.Close()
	return err
}

// healthz says the process answers.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyz says whether the server can answer: its database does.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.ping(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "database unreachable")
		return
	}
	fmt.Fprintln(w, "ready")
}
