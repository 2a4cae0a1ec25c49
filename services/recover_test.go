package services_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/molar-dental/molar/services"
)

// TestRecoverHTTP: a panic in an upload or image-link handler answers 500
// with the request id, is reported as a *Panic under its route's name, and
// leaves the handler serving the next request; an abort on purpose is
// passed on to net/http as it was.
func TestRecoverHTTP(t *testing.T) {
	t.Parallel()
	var reported []string
	report := func(_ context.Context, route string, err error, _ any) {
		var p *services.Panic
		if !errors.As(err, &p) || len(p.StackFrames()) == 0 {
			t.Errorf("reported %v, want a *Panic with its stack", err)
		}
		reported = append(reported, route+": "+err.Error())
	}
	calls := 0
	h := services.WithRequestID(services.RecoverHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch r.URL.Path {
		case "/media/boom":
			panic("thumbnail table out of range")
		case "/media/abort":
			panic(http.ErrAbortHandler)
		}
		_, _ = io.WriteString(w, "ok")
	}), "media", slog.New(slog.DiscardHandler), report))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/media/boom", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "internal error (request ") {
		t.Errorf("after a panic: %d %q, want 500 naming the request", rec.Code, rec.Body.String())
	}
	if len(reported) != 1 || reported[0] != "media: panic: thumbnail table out of range" {
		t.Errorf("reported %q", reported)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/media/fine", nil))
	if rec.Code != http.StatusOK || calls != 2 {
		t.Errorf("the next request: %d after %d calls", rec.Code, calls)
	}
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("an abort became %v", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/media/abort", nil))
	}()
	if len(reported) != 1 {
		t.Errorf("an abort was reported: %q", reported)
	}
}
