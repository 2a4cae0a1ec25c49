package images

import (
	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// File is one blob an image record refers to.
type File struct {
	// Key is the blob's key in the store.
	Key string
	// Size and SHA256 are what the record says of the original; zero and
	// empty for a rendition, which the record does not describe.
	Size   int64
	SHA256 string
	// Derived marks a rendition, which can be made again from the original.
	Derived bool
}

// Files lists the blobs an image's record refers to: its original, always
// stored before the record commits and never replaced after, and its
// renditions once its thumbnails are done (they are stored before the
// status says so). A backup copies exactly these.
func Files(img *molarv1.Image) []File {
	out := []File{{Key: originalKey(img.GetId()), Size: img.GetSizeBytes(), SHA256: img.GetSha256()}}
	if img.GetThumbnailStatus() == molarv1.ThumbnailStatus_THUMBNAIL_STATUS_DONE {
		for _, r := range []string{RenditionGrid, RenditionPreview} {
			out = append(out, File{Key: renditionKey(img.GetId(), r), Derived: true})
		}
	}
	return out
}
