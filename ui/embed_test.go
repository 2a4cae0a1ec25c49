package ui

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

// TestPrecompressed: a browser that accepts Brotli gets the build's .br
// copy, one that accepts only gzip the .gz, one that accepts neither (or
// refuses Brotli with q=0) the file as it is; each with the file's own
// type, and caches told the answer varies with Accept-Encoding.
func TestPrecompressed(t *testing.T) {
	app := fstest.MapFS{
		"index.html":        {Data: []byte("<!doctype html>")},
		"assets/app.js":     {Data: []byte("console.log('plain')")},
		"assets/app.js.br":  {Data: []byte("BROTLI")},
		"assets/app.js.gz":  {Data: []byte("GZIP")},
		"assets/font.woff2": {Data: []byte("WOFF2")},
	}
	h := handler(app)
	for _, c := range []struct {
		accept, path, encoding, body, ctype string
	}{
		{"gzip, deflate, br, zstd", "/assets/app.js", "br", "BROTLI", "text/javascript; charset=utf-8"},
		{"gzip", "/assets/app.js", "gzip", "GZIP", "text/javascript; charset=utf-8"},
		{"br;q=0, gzip;q=0.5", "/assets/app.js", "gzip", "GZIP", "text/javascript; charset=utf-8"},
		{"", "/assets/app.js", "", "console.log('plain')", "text/javascript; charset=utf-8"},
		{"br", "/assets/font.woff2", "", "WOFF2", "font/woff2"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		if c.accept != "" {
			req.Header.Set("Accept-Encoding", c.accept)
		}
		h.ServeHTTP(rec, req)
		res := rec.Result()
		if res.StatusCode != http.StatusOK || rec.Body.String() != c.body || res.Header.Get("Content-Encoding") != c.encoding ||
			res.Header.Get("Content-Type") != c.ctype || res.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s with %q: %d %q, encoding %q, type %q, vary %q", c.path, c.accept, res.StatusCode, rec.Body.String(),
				res.Header.Get("Content-Encoding"), res.Header.Get("Content-Type"), res.Header.Get("Vary"))
		}
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", c.path, cc)
		}
	}
}

// TestSecurityHeaders: every answer of the app is nosniff; its page (at
// its root and at a client-side route) and the answer for a missing file
// carry the document's headers.
func TestSecurityHeaders(t *testing.T) {
	h := handler(fstest.MapFS{
		"index.html":    {Data: []byte("<!doctype html>")},
		"assets/app.js": {Data: []byte("console.log('plain')")},
	})
	for _, path := range []string{"/", "/patients/p1", "/assets/app.js", "/assets/missing.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		want := map[string]string{"X-Content-Type-Options": "nosniff"}
		if path != "/assets/app.js" {
			maps.Copy(want, DocumentHeaders)
		} else if got := rec.Result().Header.Get("Content-Security-Policy"); got != "" {
			t.Errorf("%s: Content-Security-Policy %q on a file", path, got)
		}
		for k, v := range want {
			if got := rec.Result().Header.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s %q, want %q", path, k, got, v)
			}
		}
	}
}
