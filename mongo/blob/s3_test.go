package blob

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

var buckets atomic.Int64

// newBucket makes an empty bucket on the test server for one test.
func newBucket(t *testing.T) (endpoint, bucket string) {
	t.Helper()
	endpoint = s3Endpoint(t)
	bucket = fmt.Sprintf("molar-test-%d", buckets.Add(1))
	if err := adminClient(endpoint).MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return endpoint, bucket
}

// newS3 is an S3 store on a fresh bucket, with the smallest part size so
// that a few MiB take the multipart way.
func newS3(t *testing.T) (*S3, string) {
	t.Helper()
	endpoint, bucket := newBucket(t)
	s, err := NewS3(context.Background(), S3Config{
		Endpoint: endpoint, Bucket: bucket, AccessKey: weedAccessKey, SecretKey: weedSecretKey, PartSize: minPartSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, bucket
}

// staged checks what is left under the staging prefix: objects, and
// unfinished multipart uploads.
func staged(t *testing.T, bucket string, objects, uploads int, when string) {
	t.Helper()
	c := adminClient(s3Endpoint(t))
	ctx := context.Background()
	var o, u []string
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: stagingPrefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		o = append(o, obj.Key)
	}
	for up := range c.ListIncompleteUploads(ctx, bucket, stagingPrefix, true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		u = append(u, up.Key)
	}
	if len(o) != objects || len(u) != uploads {
		t.Fatalf("%s: staged objects %v, uploads %v; want %d and %d", when, o, u, objects, uploads)
	}
}

func TestS3StoresWholeOrNothing(t *testing.T) {
	t.Parallel()
	s, bucket := newS3(t)
	t.Run("contract", func(t *testing.T) { testBlobs(t, s, minPartSize+1) })
	staged(t, bucket, 0, 0, "after large and cut uploads")
}

// A process killed during a large upload leaves an unfinished multipart
// upload, or a staged object not yet copied to its key; Sweep removes
// those older than it is told, and leaves younger ones (another process's
// uploads in progress) alone.
func TestS3SweepsWhatACrashLeft(t *testing.T) {
	t.Parallel()
	s, bucket := newS3(t)
	ctx := context.Background()
	c := adminClient(s3Endpoint(t))
	if _, err := c.PutObject(ctx, bucket, stagingPrefix+"crashed-before-copy", bytes.NewReader([]byte("half")), 4, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&minio.Core{Client: c}).NewMultipartUpload(ctx, bucket, stagingPrefix+"crashed-mid-upload", minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	staged(t, bucket, 1, 1, "before sweep")
	if n, err := s.Sweep(ctx, time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Errorf("sweep of uploads older than an hour: %d %v", n, err)
	}
	if n, err := s.Sweep(ctx, time.Now().Add(time.Minute)); n != 2 || err != nil {
		t.Errorf("sweep: %d %v", n, err)
	}
	staged(t, bucket, 0, 0, "after sweep")
}

func TestNewS3RefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	endpoint, bucket := newBucket(t)
	ctx := context.Background()
	for name, cfg := range map[string]S3Config{
		"a wrong secret": {Endpoint: endpoint, Bucket: bucket, AccessKey: weedAccessKey, SecretKey: "wrong"},
		"no such bucket": {Endpoint: endpoint, Bucket: "molar-missing", AccessKey: weedAccessKey, SecretKey: weedSecretKey},
		"tiny parts":     {Endpoint: endpoint, Bucket: bucket, AccessKey: weedAccessKey, SecretKey: weedSecretKey, PartSize: 1 << 20},
		"no endpoint":    {Bucket: bucket},
	} {
		if _, err := NewS3(ctx, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]S3Config{
		"s3://images": {Bucket: "images", Endpoint: "s3.amazonaws.com", Secure: true},
		"s3://images?endpoint=127.0.0.1:8333&region=ap-northeast-2&secure=false&part_size=8388608": {
			Bucket: "images", Endpoint: "127.0.0.1:8333", Region: "ap-northeast-2", PartSize: 8 << 20,
		},
	} {
		got, err := ParseURL(raw)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v, want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{
		"s3://", "s3://images/prefix", "s3://key:secret@images", "s3://images?secure=maybe",
		"s3://images?part_size=1024", "s3://images?acces_key=x", "http://images", "%",
	} {
		if cfg, err := ParseURL(raw); err == nil {
			t.Errorf("%s: accepted as %+v", raw, cfg)
		}
	}
}

// Open builds the store MOLAR_BLOB_URL names, with S3 credentials from the
// standard environment variables. Not parallel: it sets them.
func TestOpenFromURL(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	for _, raw := range []string{"", "file://", "file://" + filepath.ToSlash(filepath.Join(dataDir, "elsewhere"))} {
		s, err := Open(ctx, raw, dataDir)
		if _, ok := s.(*FS); !ok || err != nil {
			t.Errorf("%q: %T %v, want an FS", raw, s, err)
		}
	}
	if s, _ := Open(ctx, "", dataDir); s != nil && s.(*FS).dir != filepath.Join(dataDir, "blobs") {
		t.Errorf("default FS in %s", s.(*FS).dir)
	}
	for _, raw := range []string{"file://host/x", "file:relative", "gs://images", "s3://"} {
		if s, err := Open(ctx, raw, dataDir); err == nil {
			t.Errorf("%q: accepted as %T", raw, s)
		}
	}

	endpoint, bucket := newBucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", weedAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", weedSecretKey)
	s, err := Open(ctx, "s3://"+bucket+"?endpoint="+endpoint+"&secure=false", dataDir)
	if _, ok := s.(*S3); !ok || err != nil {
		t.Fatalf("%T %v, want an S3", s, err)
	}
	put(t, s, "patients/p-1/images/i-1/original", []byte("x-ray"))
	if got := read(t, s, "patients/p-1/images/i-1/original"); string(got) != "x-ray" {
		t.Errorf("read back %q", got)
	}
}
