package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

type requestIDKey struct{}

type hostKey struct{}

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

// WithRequestID is HTTP middleware that gives every request an id: the
// caller's, if it sent a sane one (a proxy such as nginx may set it), or a new
// random one. The id is echoed in the response and put in the context, with
// the host the client addressed.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneID(id) {
			id = newID()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = context.WithValue(ctx, hostKey{}, r.Host)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RequestID returns the request id of ctx, or "" outside a request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestHost returns the host the client addressed (the Host header), or ""
// outside a request.
func RequestHost(ctx context.Context) string {
	h, _ := ctx.Value(hostKey{}).(string)
	return h
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
