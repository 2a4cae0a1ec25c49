package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// seenTransport remembers the method and the response headers of the last
// request it carried, as a browser's network panel would show them.
type seenTransport struct {
	mu     sync.Mutex
	method string
	header http.Header
}

func (s *seenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		s.mu.Lock()
		s.method, s.header = r.Method, res.Header.Clone()
		s.mu.Unlock()
	}
	return res, err
}

func (s *seenTransport) last() (string, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.method, s.header
}

// TestWebAppSecurityHeaders: the app's page (at its root, at a client-side
// route) and the app handler's not-found carry the content security policy
// (own scripts only, no framing, no plugins, own origin for requests),
// nosniff, no framing for old browsers, no referrer and no device
// features; its files are nosniff.
func TestWebAppSecurityHeaders(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(body)
	}
	root, index := get("/")
	route, _ := get("/patients/some-id")
	missing, _ := get("/assets/missing.js")
	for path, res := range map[string]*http.Response{"/": root, "/patients/some-id": route, "/assets/missing.js": missing} {
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:",
			"font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp+";", d) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, d)
			}
		}
		_, scripts, _ := strings.Cut(csp, "script-src")
		scripts, _, _ = strings.Cut(scripts, ";")
		if strings.Contains(csp, "unsafe-eval") || strings.Contains(scripts, "unsafe-inline") {
			t.Errorf("%s: scripts not limited to the app's own: %q", path, csp)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := h.Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("%s: %s %q, want %q", path, k, got, want)
			}
		}
		pp := h.Get("Permissions-Policy")
		for _, f := range []string{"camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"} {
			if !strings.Contains(pp, f) {
				t.Errorf("%s: Permissions-Policy %q lacks %s", path, pp, f)
			}
		}
	}
	// A file of the build, when there is one (the build is not in the
	// repository): nosniff, cached for good, and no document policy.
	if asset := regexp.MustCompile(`/assets/[^"]+\.js`).FindString(index); asset != "" {
		res, _ := get(asset)
		if got := res.Header.Values("X-Content-Type-Options"); res.StatusCode != http.StatusOK || len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s: %d, X-Content-Type-Options %q", asset, res.StatusCode, got)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", asset, cc)
		}
	} else {
		t.Log("the web app is not built: no file of it to check")
	}
	if cc := root.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("/: Cache-Control %q, want no-cache (the page is revalidated, not kept)", cc)
	}
}

// TestAPINotCached: answers with personal data are stored by no cache: a
// GetPatient sent as a GET (as the browser may, being free of side
// effects), its not-found answer, and RevealRrn; every API answer is
// nosniff. The catalog keeps its own revalidated caching, with one
// Cache-Control.
func TestAPINotCached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t)
	staff := clinicStaff(t, ts)
	seedCatalog(t, ts)
	desk := molarv1connect.NewPatientServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	created, err := desk.CreatePatient(ctx, connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: "남궁민서", Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1990-05-17", MobilePhone: "01052718364", Rrn: "9005172846135"}}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.GetPatient().GetId()

	seen := &seenTransport{}
	hc := &http.Client{Transport: seen}
	getter := molarv1connect.NewPatientServiceClient(hc, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]), connect.WithHTTPGet())
	poster := molarv1connect.NewPatientServiceClient(hc, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))
	check := func(name, wantMethod, wantCache string, call func() error) {
		t.Helper()
		if err := call(); err != nil && !strings.Contains(name, "not found") {
			t.Fatalf("%s: %v", name, err)
		}
		method, h := seen.last()
		if method != wantMethod {
			t.Errorf("%s sent as %s, want %s", name, method, wantMethod)
		}
		if got := h.Values("Cache-Control"); len(got) != 1 || got[0] != wantCache {
			t.Errorf("%s: Cache-Control %q, want %q", name, got, wantCache)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", name, got)
		}
	}
	check("GetPatient", http.MethodGet, "no-store", func() error {
		_, err := getter.GetPatient(ctx, connect.NewRequest(&molarv1.GetPatientRequest{Id: id}))
		return err
	})
	check("GetPatient not found", http.MethodGet, "no-store", func() error {
		_, err := getter.GetPatient(ctx, connect.NewRequest(&molarv1.GetPatientRequest{Id: "01890000-0000-7000-8000-000000000000"}))
		if connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("unknown patient: %v", err)
		}
		return err
	})
	check("RevealRrn", http.MethodPost, "no-store", func() error {
		_, err := poster.RevealRrn(ctx, connect.NewRequest(&molarv1.RevealRrnRequest{Id: id}))
		return err
	})

	catalog := molarv1connect.NewCatalogServiceClient(hc, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]), connect.WithHTTPGet())
	check("ListProcedures", http.MethodGet, "private, no-cache", func() error {
		_, err := catalog.ListProcedures(ctx, connect.NewRequest(&molarv1.ListProceduresRequest{}))
		return err
	})
	_, h := seen.last()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/molar.v1.CatalogService/ListProcedures?encoding=json&message=%7B%7D&connect=v1", nil)
	req.Header.Set("Authorization", "Bearer "+staff[molarv1.Role_ROLE_FRONT_DESK])
	req.Header.Set("If-None-Match", h.Get("ETag"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Values("Cache-Control"); res.StatusCode != http.StatusNotModified || len(got) != 1 || got[0] != "private, no-cache" {
		t.Errorf("catalog revalidation: %d, Cache-Control %q", res.StatusCode, got)
	}
}
