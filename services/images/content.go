// Package images keeps the radiographs and photos of a patient's record:
// what is accepted (decided by the bytes, never by the file name), where the
// bytes live, and the derived thumbnails.
package images

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // registers the JPEG decoder for DecodeConfig
	_ "image/png"  // registers the PNG decoder for DecodeConfig
	"io"

	_ "golang.org/x/image/bmp"  // registers the BMP decoder for DecodeConfig
	_ "golang.org/x/image/tiff" // registers the TIFF decoder for DecodeConfig
	_ "golang.org/x/image/webp" // registers the WebP decoder for DecodeConfig

	"github.com/molar-dental/molar/services"
)

// Format is a kind of file Molar accepts, named by its media type.
type Format string

// The accepted formats.
const (
	JPEG  Format = "image/jpeg"
	PNG   Format = "image/png"
	TIFF  Format = "image/tiff"
	BMP   Format = "image/bmp"
	WebP  Format = "image/webp"
	DICOM Format = "application/dicom"
)

// Limits bound what an upload may be.
type Limits struct {
	// MaxBytes is the largest file accepted (MOLAR_MAX_UPLOAD_BYTES).
	MaxBytes int64
	// MaxPixels is the largest width × height accepted, checked from the
	// header before anything is decoded.
	MaxPixels int64
}

// DefaultLimits are 100 MiB and 80 megapixels.
var DefaultLimits = Limits{MaxBytes: 100 << 20, MaxPixels: 80_000_000}

// Info is what the bytes say about an accepted file.
type Info struct {
	Format Format
	// Width and Height in pixels (DICOM: Columns and Rows).
	Width, Height int
	// TransferSyntax is a DICOM file's transfer syntax UID, "" otherwise.
	TransferSyntax string
}

// Rules a refused file breaks, for the client to say in the user's language.
const (
	RuleTooLarge    = "image.file.max_bytes"
	RuleEmpty       = "image.file.empty"
	RuleUnsupported = "image.file.format"
	RuleCorrupt     = "image.file.readable"
	RuleTooManyPx   = "image.file.max_pixels"
)

func refuse(rule, format string, args ...any) error {
	return services.InvalidFields(services.Violation{Field: "file", Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// Inspect decides from its content whether a file of size bytes is an
// accepted image: JPEG, PNG, TIFF, BMP, WebP or DICOM, within the limits. It
// reads only headers: a raster image's dimensions come from DecodeConfig and
// a DICOM file's from its Rows and Columns, so a decompression bomb is
// refused before any pixel is decoded. A refusal is Invalid with a violation
// of the field "file".
func Inspect(r io.ReaderAt, size int64, lim Limits) (Info, error) {
	if size <= 0 {
		return Info{}, refuse(RuleEmpty, "the file is empty")
	}
	if lim.MaxBytes > 0 && size > lim.MaxBytes {
		return Info{}, refuse(RuleTooLarge, "the file is %d bytes; at most %d are accepted", size, lim.MaxBytes)
	}
	head := make([]byte, 132)
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Info{}, fmt.Errorf("images: read header: %w", err)
	}
	head = head[:n]
	f := sniff(head)
	if f == "" {
		return Info{}, refuse(RuleUnsupported, "not a JPEG, PNG, TIFF, BMP, WebP or DICOM file")
	}
	info := Info{Format: f}
	sr := io.NewSectionReader(r, 0, size)
	if f == DICOM {
		info.Width, info.Height, info.TransferSyntax, err = dicomSize(sr)
	} else {
		var cfg image.Config
		cfg, _, err = image.DecodeConfig(sr)
		info.Width, info.Height = cfg.Width, cfg.Height
	}
	if err != nil {
		return Info{}, refuse(RuleCorrupt, "the %s file cannot be read: %v", f, err)
	}
	if info.Width <= 0 || info.Height <= 0 {
		return Info{}, refuse(RuleCorrupt, "the %s file has no image size", f)
	}
	if lim.MaxPixels > 0 && int64(info.Width)*int64(info.Height) > lim.MaxPixels {
		return Info{}, refuse(RuleTooManyPx, "the image is %d×%d pixels; at most %d pixels are accepted", info.Width, info.Height, lim.MaxPixels)
	}
	return info, nil
}

// sniff names the format the first bytes of a file announce, or "".
func sniff(b []byte) Format {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return TIFF
	case bytes.HasPrefix(b, []byte("BM")) && len(b) >= 26:
		return BMP
	case len(b) >= 12 && bytes.Equal(b[0:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return WebP
	case len(b) >= 132 && bytes.Equal(b[128:132], []byte("DICM")):
		return DICOM
	}
	return ""
}
