package ui

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
)

// Option changes how Handler serves the app.
type Option func(*options)

type options struct {
	reports *errorReports
}

// errorReports is what the page needs to send its error reports.
type errorReports struct {
	DSN         string `json:"dsn"`
	Release     string `json:"release"`
	Environment string `json:"environment"`
	origin      string
}

// ErrorReportsMeta names the meta element of the page that carries the
// browser's error-report settings as JSON ({dsn, release, environment});
// the web app loads its reporting code only when the page has one.
const ErrorReportsMeta = "molar-error-reports"

// WithErrorReports has the web app report its errors to the Sentry DSN (a
// project's public key, meant to be seen by browsers), naming the release
// and the environment: the page carries them in a meta element, and its
// Content-Security-Policy lets it send to the DSN's origin.
func WithErrorReports(dsn, release, environment string) Option {
	return func(o *options) {
		u, err := url.Parse(dsn)
		if err != nil || u.Host == "" {
			return
		}
		o.reports = &errorReports{DSN: dsn, Release: release, Environment: environment, origin: u.Scheme + "://" + u.Host}
	}
}

// page returns index with the options' meta elements in its head.
func (o options) page(index []byte) []byte {
	if o.reports == nil {
		return index
	}
	settings, err := json.Marshal(o.reports)
	if err != nil {
		return index
	}
	meta := []byte(`<meta name="` + ErrorReportsMeta + `" content="` + html.EscapeString(string(settings)) + `">`)
	at := bytes.Index(index, []byte("</head>"))
	if at < 0 {
		return append(meta, index...)
	}
	return append(append(append([]byte{}, index[:at]...), meta...), index[at:]...)
}

// documentHeaders returns what sets the page's headers: DocumentHeaders,
// with the error reports' origin among those the page may connect to.
func (o options) documentHeaders() func(http.ResponseWriter) {
	if o.reports == nil {
		return documentHeaders
	}
	headers := map[string]string{}
	for k, v := range DocumentHeaders {
		headers[k] = v
	}
	headers["Content-Security-Policy"] = strings.Replace(ContentSecurityPolicy, "connect-src 'self'", "connect-src 'self' "+o.reports.origin, 1)
	return func(w http.ResponseWriter) {
		h := w.Header()
		for k, v := range headers {
			h.Set(k, v)
		}
	}
}
