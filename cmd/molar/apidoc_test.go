package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/molar-dental/molar/internal/openapi"
)

// TestAPIDocument: /openapi.json is served to anyone, is a valid OpenAPI 3
// document (kin-openapi's loader and validator), describes every RPC of
// every service this server answers, goes out compressed to clients that
// accept zstd or gzip, and is revalidated by its ETag.
func TestAPIDocument(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	get := func(acceptEncoding, ifNoneMatch string) (*http.Response, []byte) {
		t.Helper()
		// Accept-Encoding set by hand, so that the client does not
		// decompress by itself.
		header := map[string]string{"Accept-Encoding": acceptEncoding}
		if ifNoneMatch != "" {
			header["If-None-Match"] = ifNoneMatch
		}
		return getThrough(t, http.DefaultClient, ts.URL+apiDocumentPath, header)
	}

	res, plain := get("identity", "")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Content-Encoding") != "" {
		t.Fatalf("GET %s: %d %q %q", apiDocumentPath, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"))
	}
	doc, err := openapi.Load(plain)
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != openapi.Version {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for _, name := range serviceNames() {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			path := "/" + name + "/" + string(methods.Get(i).Name())
			if item := doc.Paths.Value(path); item == nil || item.Post == nil {
				t.Errorf("%s is not described", path)
			}
		}
	}

	for _, tc := range []struct {
		accept, want string
		decode       func([]byte) ([]byte, error)
	}{
		{"gzip, deflate, br, zstd", "zstd", func(b []byte) ([]byte, error) {
			d, err := zstd.NewReader(nil)
			if err != nil {
				return nil, err
			}
			defer d.Close()
			return d.DecodeAll(b, nil)
		}},
		{"gzip, deflate", "gzip", func(b []byte) ([]byte, error) {
			r, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		}},
	} {
		res, body := get(tc.accept, "")
		if got := res.Header.Get("Content-Encoding"); got != tc.want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.accept, got, tc.want)
			continue
		}
		out, err := tc.decode(body)
		if err != nil || !bytes.Equal(out, plain) {
			t.Errorf("%s: the document does not decode to itself: %v", tc.want, err)
		}
		t.Logf("%s: %d bytes of %d", tc.want, len(body), len(plain))
		if res, _ := get(tc.accept, res.Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
			t.Errorf("%s: If-None-Match with its ETag: %d, want 304", tc.want, res.StatusCode)
		}
	}
}
