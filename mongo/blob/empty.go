package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
)

// errNotEmpty stops a walk at the first file.
var errNotEmpty = errors.New("not empty")

// Empty reports whether the directory holds no blob (nor a partial one);
// a restore writes into an empty store only.
func (s *FS) Empty() (bool, error) {
	err := filepath.WalkDir(s.dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return errNotEmpty
		}
		return nil
	})
	if errors.Is(err, errNotEmpty) {
		return false, nil
	}
	return err == nil, err
}

// Empty reports whether the bucket holds no blob (objects under staging
// aside): a restore writes into an empty store only.
func (s *S3) Empty(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return false, fmt.Errorf("blob: list %s: %w", s.bucket, obj.Err)
		}
		if !strings.HasPrefix(obj.Key, stagingPrefix) {
			return false, nil
		}
	}
	return true, nil
}
