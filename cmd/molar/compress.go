package main

import (
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"
)

// zstdCompression lets the API answer in zstd, beside Connect's own gzip,
// to callers that accept it: Connect and gRPC clients that ask for it, and
// browsers whose fetch offers zstd in Accept-Encoding (Chromium does;
// others are answered with gzip). It reads zstd requests too, within the
// same size limit as any request.
func zstdCompression() connect.HandlerOption {
	return connect.WithCompression("zstd",
		func() connect.Decompressor { return newZstdDecoder() },
		func() connect.Compressor { return newZstdEncoder() },
	)
}

// zstdMaxWindow bounds the memory one compressed request may make the
// server set aside, whatever its frame header claims.
const zstdMaxWindow = 8 << 20

// zstdEncoder is a zstd writer that Connect pools and resets per message.
type zstdEncoder struct{ *zstd.Encoder }

func newZstdEncoder() *zstdEncoder {
	// Concurrency 1: each answer is compressed in its own request's
	// goroutine, with no helpers to stop when the pool drops it.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(err) // only for invalid options, which these are not
	}
	return &zstdEncoder{enc}
}

// zstdDecoder is a zstd reader that Connect pools and resets per message.
type zstdDecoder struct{ dec *zstd.Decoder }

func newZstdDecoder() *zstdDecoder {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
	if err != nil {
		panic(err) // only for invalid options, which these are not
	}
	return &zstdDecoder{dec: dec}
}

// Read implements connect.Decompressor.
func (d *zstdDecoder) Read(p []byte) (int, error) { return d.dec.Read(p) }

// Reset implements connect.Decompressor.
func (d *zstdDecoder) Reset(r io.Reader) error { return d.dec.Reset(r) }

// Close implements connect.Decompressor. It lets go of the source but keeps
// the decoder usable: Connect closes a decompressor before pooling it, and
// a closed zstd.Decoder cannot be reset.
func (d *zstdDecoder) Close() error { return d.dec.Reset(nil) }

// preferZstd puts zstd first in a request's Accept-Encoding when the
// client accepts it. Connect answers with the first coding it knows in the
// client's order, and browsers list gzip before zstd; zstd makes the
// smaller answers (see TestResponseCompression).
func preferZstd(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if accept := r.Header.Get("Accept-Encoding"); accept != "" && !strings.HasPrefix(accept, "zstd") {
			codings := strings.Split(accept, ",")
			for i, c := range codings {
				if strings.TrimSpace(c) == "zstd" {
					rest := append(codings[:i:i], codings[i+1:]...)
					// A copy: a handler leaves the request it was given as it is.
					r = r.WithContext(r.Context())
					r.Header = r.Header.Clone()
					r.Header.Set("Accept-Encoding", strings.Join(append([]string{"zstd"}, rest...), ","))
					break
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
