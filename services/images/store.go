package images

import (
	"context"
	"io"
)

// Blob is what was stored for a key: its length and SHA-256, hex.
type Blob struct {
	Size   int64
	SHA256 string
}

// Blobs keeps the bytes of images and their thumbnails, by key. Keys are
// made by this package (lower-case letters, digits, '-', '_', '.' and '/'
// between parts) and never come from a user.
type Blobs interface {
	// Put stores everything r yields under key, replacing what was there
	// only once all of it is durably written: a failure or a crash part way
	// leaves the key as it was.
	Put(ctx context.Context, key string, r io.Reader) (Blob, error)
	// Open reads a blob; a missing key is services.NotFound.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, Blob, error)
	// Delete removes a blob; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}
