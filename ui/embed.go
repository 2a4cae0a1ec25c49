// Package ui serves the built web app, embedded in the binary so that the
// server is the whole product. `npm run build` writes it to dist/app.
package ui

import (
	"bytes"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Handler serves the app: files as they are (hashed assets cached for a
// year), and index.html for any other GET so that client-side routes load.
// Without a built app it says how to build one. Every answer is nosniff;
// the page (and the answer for a missing file) carries DocumentHeaders.
// Files do not: a policy there would guard no document, and on the
// sign-in page's 28 files it would add 16 KiB.
func Handler(opts ...Option) http.Handler {
	app, err := fs.Sub(dist, "dist/app")
	if err != nil {
		panic(err)
	}
	return handler(app, opts...)
}

// handler serves the built app in app.
func handler(app fs.FS, opts ...Option) http.Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	index, err := fs.ReadFile(app, "index.html")
	if err != nil {
		index = []byte("<!doctype html><meta charset=utf-8><title>Molar</title>" +
			"<p>The web app is not built. Run <code>go tool task build</code>.</p>")
	}
	index = o.page(index)
	setDocumentHeaders := o.documentHeaders()
	files := http.FileServerFS(app)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			setDocumentHeaders(w)
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(app, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				if servePrecompressed(w, r, app, name) {
					return
				}
				files.ServeHTTP(w, r)
				return
			}
			if path.Ext(name) != "" {
				setDocumentHeaders(w)
				http.NotFound(w, r)
				return
			}
		}
		setDocumentHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	})
}

// ContentSecurityPolicy is what the built app may load and do: its own
// scripts only (no inline script, no eval), its own styles plus inline ones
// (Vuetify writes its theme into a <style> element at run time), images
// from its own origin (the media links) or made in the page (data: icons,
// blob: pictures the DICOM viewer and the upload preview draw), its own
// fonts, requests to its own origin only, no plugins, and no framing, no
// <base> elsewhere, no form posted elsewhere.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; worker-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// DocumentHeaders are set on the app's page. The referrer is never sent: the app needs it nowhere (its requests carry
// Origin, which a Referrer-Policy does not remove from fetch and XHR), and
// its paths name patients. X-Frame-Options is frame-ancestors for browsers
// that predate it; the Permissions-Policy turns off the device features
// the app never uses (only features every current browser knows, as an
// unknown one is a console warning); the opener policy keeps a window
// the app did not open from reaching it.
var DocumentHeaders = map[string]string{
	"Content-Security-Policy": ContentSecurityPolicy,
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Permissions-Policy": "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), hid=(), " +
		"magnetometer=(), microphone=(), midi=(), payment=(), serial=(), usb=(), xr-spatial-tracking=()",
	"Cross-Origin-Opener-Policy": "same-origin",
}

// documentHeaders sets DocumentHeaders on w.
func documentHeaders(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range DocumentHeaders {
		h.Set(k, v)
	}
}

// encodings are the precompressed copies the build writes beside a file
// (ui/scripts/compress.mjs), best first.
var encodings = []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}}

// servePrecompressed sends the build's compressed copy of name when the
// browser accepts its encoding, and reports whether it did. Caches are
// told the answer depends on Accept-Encoding either way.
func servePrecompressed(w http.ResponseWriter, r *http.Request, app fs.FS, name string) bool {
	w.Header().Add("Vary", "Accept-Encoding")
	accepted := acceptedEncodings(r.Header.Get("Accept-Encoding"))
	for _, e := range encodings {
		if !accepted[e.name] {
			continue
		}
		body, err := fs.ReadFile(app, name+e.ext)
		if err != nil {
			continue
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Encoding", e.name)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
		return true
	}
	return false
}

// acceptedEncodings reads an Accept-Encoding header: the codings it names
// with a weight above zero ("*" is not taken to mean a precompressed one).
func acceptedEncodings(header string) map[string]bool {
	out := map[string]bool{}
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if coding != "" && q > 0 {
			out[strings.ToLower(coding)] = true
		}
	}
	return out
}
