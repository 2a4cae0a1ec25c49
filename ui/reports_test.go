package ui

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// TestErrorReportsOnThePage: with error reports the page carries their
// settings in its meta element and may connect to the DSN's origin (and
// only the page's policy changes); without, the page is as built.
func TestErrorReportsOnThePage(t *testing.T) {
	t.Parallel()
	app := fstest.MapFS{"index.html": {Data: []byte(`<!doctype html><html><head><title>Molar</title></head><body></body></html>`)}}
	get := func(h http.Handler, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}

	plain := get(handler(app), "/patients/p1")
	if strings.Contains(plain.Body.String(), ErrorReportsMeta) || plain.Header().Get("Content-Security-Policy") != ContentSecurityPolicy {
		t.Fatalf("without reports: %s, CSP %q", plain.Body.String(), plain.Header().Get("Content-Security-Policy"))
	}

	h := handler(app, WithErrorReports("https://0123abcd@o1.ingest.example.com:8443/42", "molar@1.2.3", "prod"))
	for _, path := range []string{"/", "/patients/p1"} {
		rec := get(h, path)
		m := regexp.MustCompile(`<meta name="` + ErrorReportsMeta + `" content="([^"]*)">`).FindStringSubmatch(rec.Body.String())
		if m == nil || !strings.Contains(rec.Body.String(), "</title>"+m[0]+"</head>") {
			t.Fatalf("%s: no meta element in the head: %s", path, rec.Body.String())
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &got); err != nil {
			t.Fatal(err)
		}
		if got["dsn"] != "https://0123abcd@o1.ingest.example.com:8443/42" || got["release"] != "molar@1.2.3" || got["environment"] != "prod" {
			t.Errorf("%s: settings %v", path, got)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "connect-src 'self' https://o1.ingest.example.com:8443;") || strings.Contains(csp, "0123abcd") ||
			strings.Replace(csp, " https://o1.ingest.example.com:8443", "", 1) != ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	if DocumentHeaders["Content-Security-Policy"] != ContentSecurityPolicy {
		t.Error("the package's headers changed")
	}
}
