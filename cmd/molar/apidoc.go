package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/klauspost/compress/gzhttp"

	"github.com/molar-dental/molar/gen/openapi"
)

// apiDocumentPath is where the OpenAPI document of the API is served; the
// web app's /docs shows it.
const apiDocumentPath = "/openapi.json"

// apiDocument serves the OpenAPI document generated from proto/
// (gen/openapi) to anyone: the schema it describes is no secret, and gRPC
// reflection already tells it. Browsers revalidate it by its ETag (weak, as
// the compressed answers share it); it goes out compressed with zstd or
// gzip to clients that accept either.
func apiDocument() (http.Handler, error) {
	sum := sha256.Sum256(openapi.JSON)
	etag := `W/"` + hex.EncodeToString(sum[:12]) + `"`
	compress, err := gzhttp.NewWrapper(gzhttp.EnableZstd(true))
	if err != nil {
		return nil, err
	}
	return compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(openapi.JSON))
	})), nil
}
