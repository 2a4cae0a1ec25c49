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
// Without a built app it says how to build one.
func Handler() http.Handler {
	app, err := fs.Sub(dist, "dist/app")
	if err != nil {
		panic(err)
	}
	return handler(app)
}

// handler serves the built app in app.
func handler(app fs.FS) http.Handler {
	index, err := fs.ReadFile(app, "index.html")
	if err != nil {
		index = []byte("<!doctype html><meta charset=utf-8><title>Molar</title>" +
			"<p>The web app is not built. Run <code>go tool task build</code>.</p>")
	}
	files := http.FileServerFS(app)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
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
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	})
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
