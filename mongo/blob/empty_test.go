package blob

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"
)

// TestFSEmpty: a directory with no file, even with folders, is empty; one
// blob, or a partial one, is not.
func TestFSEmpty(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "images", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if empty, err := s.Empty(); err != nil || !empty {
		t.Fatalf("folders only: empty %v, %v", empty, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "images", "x", tempPrefix+"1"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if empty, err := s.Empty(); err != nil || empty {
		t.Fatalf("a partial file: empty %v, %v", empty, err)
	}
}

// TestS3Empty: a bucket with only staged uploads is empty; one with a blob
// is not.
func TestS3Empty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, bucket := newS3(t)
	if empty, err := s.Empty(ctx); err != nil || !empty {
		t.Fatalf("a new bucket: empty %v, %v", empty, err)
	}
	if _, err := adminClient(s3Endpoint(t)).PutObject(ctx, bucket, stagingPrefix+"left", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if empty, err := s.Empty(ctx); err != nil || !empty {
		t.Fatalf("staged uploads only: empty %v, %v", empty, err)
	}
	if _, err := s.Put(ctx, "images/a/original", bytes.NewReader([]byte("radiograph"))); err != nil {
		t.Fatal(err)
	}
	if empty, err := s.Empty(ctx); err != nil || empty {
		t.Fatalf("a blob: empty %v, %v", empty, err)
	}
}
