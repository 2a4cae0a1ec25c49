package main

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/images"
)

// streamingProcedures are the schema's methods whose request or answer is
// a stream: their bodies have no deadline.
func streamingProcedures() map[string]bool {
	out := map[string]bool{}
	protoregistry.GlobalFiles.RangeFilesByPackage("molar.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			ms := fd.Services().Get(i).Methods()
			for j := 0; j < ms.Len(); j++ {
				if md := ms.Get(j); md.IsStreamingClient() || md.IsStreamingServer() {
					out[auth.Procedure(md)] = true
				}
			}
		}
		return true
	})
	return out
}

// bodyDeadline gives the body of every request but streams and uploads d
// to arrive: a client that sends its request a byte at a time is cut off
// instead of holding a connection and a handler. The deadline is lifted
// once the body is read, so a handler that then takes long is not cut.
// Streams stay open as long as they are wanted, and uploads, which may be
// large on a slow line, are resumable and bounded by their own limits.
func bodyDeadline(next http.Handler, d time.Duration) http.Handler {
	streaming := streamingProcedures()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || streaming[r.URL.Path] || strings.HasPrefix(r.URL.Path, images.UploadPath) {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = &liftOnEOF{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		next.ServeHTTP(w, r)
	})
}

// liftOnEOF calls lift once its body is read to the end. A body closed
// before its end keeps the deadline: the server then reads what is left
// of it, and a client that never sends it must not hold the connection.
type liftOnEOF struct {
	io.ReadCloser
	lift   func()
	lifted bool
}

func (b *liftOnEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.lifted {
		b.lifted = true
		b.lift()
	}
	return n, err
}
