package main

import "net/http"

// nosniff tells browsers to trust the Content-Type of every answer, so that
// nothing served (an uploaded image, an error's text, a JSON answer) is
// ever run as a script or a page of another type.
func nosniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// noStore gives every answer of next that sets no Cache-Control of its own
// `Cache-Control: no-store`: API answers carry personal data (a GET of
// GetPatient included), which must stay in no browser or proxy cache. A
// handler that knows better (the catalog's `private, no-cache` with its
// ETag, a media link's `private, max-age`) keeps its own. The header is
// filled in when the answer starts, as Connect writes a handler's headers
// only then.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&noStoreWriter{ResponseWriter: w}, r)
	})
}

// noStoreWriter sets Cache-Control: no-store, unless set, on the first
// write of the status, the body or a flush.
type noStoreWriter struct {
	http.ResponseWriter
	started bool
}

func (w *noStoreWriter) start() {
	if w.started {
		return
	}
	w.started = true
	if h := w.Header(); h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
}

// WriteHeader implements http.ResponseWriter.
func (w *noStoreWriter) WriteHeader(code int) {
	w.start()
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *noStoreWriter) Write(p []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(p)
}

// Flush implements http.Flusher, which Connect needs for streams.
func (w *noStoreWriter) Flush() {
	w.start()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *noStoreWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
