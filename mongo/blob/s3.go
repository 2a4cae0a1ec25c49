package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/images"
)

var _ images.Blobs = (*S3)(nil)

const (
	// DefaultPartSize is how much of an upload is held in memory at a time;
	// a blob no larger than this is sent in one request.
	DefaultPartSize = 16 << 20
	// minPartSize is the smallest part S3 accepts in a multipart upload.
	minPartSize = 5 << 20
	// stagingPrefix holds uploads larger than one part until they are copied
	// to their key. No valid key starts with '.', so none can reach it.
	stagingPrefix = ".staging/"
	// shaMeta is the user metadata that carries a blob's SHA-256, hex.
	shaMeta = "Sha256"
)

// S3Config says where an S3-compatible bucket is and how to reach it.
type S3Config struct {
	// Endpoint is host[:port], without a scheme (s3.amazonaws.com for AWS).
	Endpoint string
	Bucket   string
	Region   string
	// Secure is https; only a loopback or private endpoint should be plain http.
	Secure bool
	// AccessKey and SecretKey sign requests; when both are empty they are
	// taken from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or MINIO_ROOT_USER/
	// MINIO_ROOT_PASSWORD), ~/.aws/credentials, or the instance's IAM role.
	AccessKey string
	SecretKey string
	// PartSize is the size of an upload's parts (at least 5 MiB); zero is
	// DefaultPartSize.
	PartSize int64
}

// S3 keeps blobs as objects in a bucket of an S3-compatible store.
//
// An object appears whole, or not at all, when its upload completes: that
// is S3's commit point. A blob that fits in one part is sent in one PutObject
// with its SHA-256 as metadata. A larger one streams, part by part, into a
// multipart upload under stagingPrefix (its hash is known only at the end,
// and an object's metadata is fixed when its upload starts), and is then
// copied to its key with the hash, inside the store: that copy is the commit
// point. A cut upload is aborted and leaves the key as it was; what a crash
// leaves in staging is removed by Sweep.
type S3 struct {
	client   *minio.Client
	bucket   string
	partSize int64
}

// NewS3 connects to the bucket described by cfg and checks that it exists.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("blob: an S3 store needs an endpoint and a bucket")
	}
	part := cfg.PartSize
	if part == 0 {
		part = DefaultPartSize
	}
	if part < minPartSize {
		return nil, fmt.Errorf("blob: part size %d is under S3's minimum of %d", part, minPartSize)
	}
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	if cfg.AccessKey == "" && cfg.SecretKey == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.EnvMinio{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{Client: &http.Client{Transport: http.DefaultTransport}},
		})
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{Creds: creds, Secure: cfg.Secure, Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob: bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("blob: no bucket %s at %s", cfg.Bucket, cfg.Endpoint)
	}
	return &S3{client: client, bucket: cfg.Bucket, partSize: part}, nil
}

// Put sends a blob that fits in one part in a single request, and streams a
// larger one through staging (see S3). Errors: a bad key, the reader's
// error, the context's, or the store's.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (images.Blob, error) {
	if err := checkKey(key); err != nil {
		return images.Blob{}, err
	}
	h := sha256.New()
	src := io.TeeReader(contextReader{ctx, r}, h)
	// Read one byte past a part to learn whether the blob fits in one.
	var first bytes.Buffer
	n, err := first.ReadFrom(io.LimitReader(src, s.partSize+1))
	if err != nil {
		return images.Blob{}, fmt.Errorf("blob: write %s: %w", key, err)
	}
	if n <= s.partSize {
		b := images.Blob{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		_, err := s.client.PutObject(ctx, s.bucket, key, &first, n, minio.PutObjectOptions{
			UserMetadata: map[string]string{shaMeta: b.SHA256},
			ContentType:  "application/octet-stream",
		})
		if err != nil {
			return images.Blob{}, fmt.Errorf("blob: write %s: %w", key, err)
		}
		return b, nil
	}
	return s.putStaged(ctx, key, io.MultiReader(&first, src), h)
}

// putStaged streams rest into a multipart upload under stagingPrefix, then
// copies the finished object to key with the hash of what was read.
func (s *S3) putStaged(ctx context.Context, key string, rest io.Reader, h hash.Hash) (images.Blob, error) {
	var id [16]byte
	_, _ = rand.Read(id[:])
	staged := stagingPrefix + hex.EncodeToString(id[:])
	// On any error minio-go aborts the multipart upload, so nothing is left.
	info, err := s.client.PutObject(ctx, s.bucket, staged, rest, -1, minio.PutObjectOptions{
		PartSize:    uint64(s.partSize),
		ContentType: "application/octet-stream",
	})
	if err != nil {
		return images.Blob{}, fmt.Errorf("blob: write %s: %w", key, err)
	}
	defer func() {
		// The staged copy is garbage whether or not the commit worked; a
		// failure here is left to Sweep. The request's context may be over.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = s.client.RemoveObject(ctx, s.bucket, staged, minio.RemoveObjectOptions{})
	}()
	b := images.Blob{Size: info.Size, SHA256: hex.EncodeToString(h.Sum(nil))}
	_, err = s.client.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: key, ReplaceMetadata: true, UserMetadata: map[string]string{shaMeta: b.SHA256}},
		minio.CopySrcOptions{Bucket: s.bucket, Object: staged, MatchETag: info.ETag})
	if err != nil {
		return images.Blob{}, fmt.Errorf("blob: commit %s: %w", key, err)
	}
	return b, nil
}

// Open returns the object as a reader that seeks with ranged requests, all
// pinned to the version first read (a blob replaced meanwhile fails the
// read rather than mixing two). The size and hash come from the object's
// headers, not from reading it. Errors: a bad key, services.NotFound, or
// the store's.
func (s *S3) Open(ctx context.Context, key string) (io.ReadSeekCloser, images.Blob, error) {
	if err := checkKey(key); err != nil {
		return nil, images.Blob{}, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, images.Blob{}, s.readError(key, err)
	}
	info, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, images.Blob{}, s.readError(key, err)
	}
	sum := info.Metadata.Get("X-Amz-Meta-" + shaMeta)
	if len(sum) != sha256.Size*2 {
		_ = obj.Close()
		return nil, images.Blob{}, fmt.Errorf("blob: %s has no SHA-256 (written by something else?)", key)
	}
	return obj, images.Blob{Size: info.Size, SHA256: sum}, nil
}

func (s *S3) readError(key string, err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == minio.NoSuchKey || (resp.StatusCode == http.StatusNotFound && resp.Code != minio.NoSuchBucket) {
		return services.Errorf(services.NotFound, "no blob %s", key)
	}
	return fmt.Errorf("blob: read %s: %w", key, err)
}

// Delete removes the object; S3 reports success for a missing one too.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

// Sweep removes what uploads cut short by a crash left in staging (staged
// objects and unfinished multipart uploads) that started before before.
// Other processes may be uploading into the same bucket, so pass a time well
// past any upload's length (an hour ago, say). A lifecycle rule that aborts
// incomplete multipart uploads does the same on the store's side.
func (s *S3) Sweep(ctx context.Context, before time.Time) (int, error) {
	n := 0
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: stagingPrefix, Recursive: true}) {
		if obj.Err != nil {
			return n, fmt.Errorf("blob: sweep: %w", obj.Err)
		}
		if obj.LastModified.Before(before) {
			if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
				return n, fmt.Errorf("blob: sweep %s: %w", obj.Key, err)
			}
			n++
		}
	}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, stagingPrefix, true) {
		if up.Err != nil {
			return n, fmt.Errorf("blob: sweep: %w", up.Err)
		}
		if up.Initiated.Before(before) {
			if err := s.client.RemoveIncompleteUpload(ctx, s.bucket, up.Key); err != nil {
				return n, fmt.Errorf("blob: sweep %s: %w", up.Key, err)
			}
			n++
		}
	}
	return n, nil
}

// ParseURL reads an S3 store's settings from a MOLAR_BLOB_URL of the form
// s3://bucket?endpoint=host:port&region=name&secure=false&part_size=bytes.
// The endpoint defaults to AWS (s3.amazonaws.com) and secure to true;
// credentials never come from the URL (see S3Config).
func ParseURL(raw string) (S3Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return S3Config{}, fmt.Errorf("blob: MOLAR_BLOB_URL: %w", err)
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return S3Config{}, fmt.Errorf("blob: MOLAR_BLOB_URL %q: want s3://bucket?endpoint=host:port&region=...", raw)
	}
	q := u.Query()
	cfg := S3Config{Bucket: u.Host, Endpoint: q.Get("endpoint"), Region: q.Get("region"), Secure: true}
	if cfg.Endpoint == "" {
		cfg.Endpoint = "s3.amazonaws.com"
	}
	if v := q.Get("secure"); v != "" {
		if cfg.Secure, err = strconv.ParseBool(v); err != nil {
			return S3Config{}, fmt.Errorf("blob: MOLAR_BLOB_URL: secure=%q is not true or false", v)
		}
	}
	if v := q.Get("part_size"); v != "" {
		if cfg.PartSize, err = strconv.ParseInt(v, 10, 64); err != nil || cfg.PartSize < minPartSize {
			return S3Config{}, fmt.Errorf("blob: MOLAR_BLOB_URL: part_size=%q is not a number of bytes of at least %d", v, minPartSize)
		}
	}
	for k := range q {
		switch k {
		case "endpoint", "region", "secure", "part_size":
		default:
			return S3Config{}, fmt.Errorf("blob: MOLAR_BLOB_URL: unknown setting %q", k)
		}
	}
	return cfg, nil
}

// Open returns the blob store MOLAR_BLOB_URL names: empty or file:// is an FS
// in dataDir/blobs, file:///path an FS at path, s3://... an S3 (see
// ParseURL). It does not sweep: call the store's Sweep at start.
func Open(ctx context.Context, rawURL, dataDir string) (images.Blobs, error) {
	if rawURL == "" || rawURL == "file://" {
		return NewFS(filepath.Join(dataDir, "blobs"))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blob: MOLAR_BLOB_URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || u.Path == "" || u.RawQuery != "" {
			return nil, fmt.Errorf("blob: MOLAR_BLOB_URL %q: want file:///absolute/path", rawURL)
		}
		return NewFS(filepath.FromSlash(u.Path))
	case "s3":
		cfg, err := ParseURL(rawURL)
		if err != nil {
			return nil, err
		}
		return NewS3(ctx, cfg)
	default:
		return nil, fmt.Errorf("blob: MOLAR_BLOB_URL %q: want s3://, file:// or nothing", rawURL)
	}
}
