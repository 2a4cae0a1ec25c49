package images

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"slices"

	"golang.org/x/image/draw"
)

// The longest side, in pixels, of the two thumbnails made of every image.
const (
	// GridSize is for the patient's grid of images.
	GridSize = 320
	// PreviewSize is for viewing one image on a screen.
	PreviewSize = 1600
)

// thumbnailQuality is the JPEG quality of thumbnails: no visible blocking
// on radiographs at a third of the size of quality 95.
const thumbnailQuality = 82

// ErrThumbnailUnavailable means an accepted file has no thumbnail Molar can
// make (a compressed DICOM transfer syntax, a color or unusual DICOM image,
// a raster too deep to decode within the limits): the file is kept and its
// thumbnail marked unavailable; trying again would not help.
var ErrThumbnailUnavailable = errors.New("images: no thumbnail can be made of this file")

// Rendition is one thumbnail of an image.
type Rendition struct {
	// Size is the longest side that was asked for; the image is never
	// enlarged, so Width and Height may be smaller.
	Size          int
	MediaType     Format
	Width, Height int
	// Data is the encoded image: pixels only, none of the original's
	// metadata (EXIF, GPS, device, DICOM attributes).
	Data []byte
}

// Thumbnails makes a rendition of the image in r (size bytes, which Inspect
// described as info) for each of sizes, the longest side of each: decoded,
// turned upright as its EXIF orientation says, scaled down (never up) and
// encoded as JPEG, so no metadata survives. Grayscale images (radiographs)
// stay grayscale. A DICOM image is windowed to 8 bits first.
//
// The bytes are inspected again within lim before any pixel is decoded, so
// a file that changed or grew since its upload is refused, not decoded. A
// file that cannot have a thumbnail is ErrThumbnailUnavailable; a file
// that cannot be read is another error.
func Thumbnails(r io.ReaderAt, size int64, info Info, lim Limits, sizes []int) ([]Rendition, error) {
	got, err := Inspect(r, size, lim)
	if err != nil {
		return nil, err
	}
	if got != info {
		return nil, fmt.Errorf("images: the file is now %+v, not %+v", got, info)
	}
	var m image.Image
	if info.Format == DICOM {
		m, err = dicomGray(r, size)
	} else {
		m, err = decodeRaster(r, size, lim)
	}
	if err != nil {
		return nil, err
	}
	o := exifOrientation(r, size, info.Format)
	return renditions(m, o, sizes)
}

// decodeRaster decodes a JPEG, PNG, TIFF, BMP or WebP image, refusing one
// whose decoded pixels would take more memory than lim.MaxPixels pixels of
// 8-bit RGBA (a 16-bit color PNG takes twice that per pixel).
func decodeRaster(r io.ReaderAt, size int64, lim Limits) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, fmt.Errorf("images: read image header: %w", err)
	}
	if need := int64(cfg.Width) * int64(cfg.Height) * bytesPerPixel(cfg.ColorModel); lim.MaxPixels > 0 && need > 4*lim.MaxPixels {
		return nil, fmt.Errorf("%w: decoding %d×%d pixels would take %d MB", ErrThumbnailUnavailable, cfg.Width, cfg.Height, need>>20)
	}
	m, _, err := image.Decode(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, fmt.Errorf("images: decode image: %w", err)
	}
	return m, nil
}

// bytesPerPixel is how much memory a decoded pixel of model takes.
func bytesPerPixel(model color.Model) int64 {
	switch model {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at worst
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := model.(color.Palette); ok {
		return 1
	}
	return 4
}

// renditions scales m (stored turned as o says) to each of sizes, the
// largest first, each from the one before so the full image is scaled once.
func renditions(m image.Image, o orientation, sizes []int) ([]Rendition, error) {
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return sizes[b] - sizes[a] })
	gray := isGray(m)
	out := make([]Rendition, len(sizes))
	b := m.Bounds()
	src := m
	for _, i := range order {
		if sizes[i] <= 0 {
			return nil, fmt.Errorf("images: thumbnail size %d", sizes[i])
		}
		w, h := fit(b.Dx(), b.Dy(), sizes[i])
		scaled := scale(src, w, h, gray)
		shown := upright(scaled, o)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, flatten(shown), &jpeg.Options{Quality: thumbnailQuality}); err != nil {
			return nil, fmt.Errorf("images: encode thumbnail: %w", err)
		}
		sb := shown.Bounds()
		out[i] = Rendition{Size: sizes[i], MediaType: JPEG, Width: sb.Dx(), Height: sb.Dy(), Data: buf.Bytes()}
		src = scaled
	}
	return out, nil
}

// fit is the size of a w×h image whose longest side is at most longest,
// never larger than w×h and never zero.
func fit(w, h, longest int) (int, int) {
	long := max(w, h)
	if long <= longest {
		return w, h
	}
	return max(1, (w*longest+long/2)/long), max(1, (h*longest+long/2)/long)
}

// isGray tells whether m has no color to keep.
func isGray(m image.Image) bool {
	switch m.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	return false
}

// canvas is a w×h image to scale into: 8-bit gray or RGBA.
func canvas(w, h int, gray bool) draw.Image {
	if gray {
		return image.NewGray(image.Rect(0, 0, w, h))
	}
	return image.NewRGBA(image.Rect(0, 0, w, h))
}

// scaleBudget bounds the float buffer (32 bytes a pixel) the Catmull-Rom
// scaler allocates for each band of the image.
const scaleBudget = 4 << 20

// scale resamples m to w×h with Catmull-Rom, into an *image.Gray or
// *image.RGBA at the origin. The scaler of golang.org/x/image/draw keeps a
// float64 buffer of w × (m's height) × 4 channels, 256 MB for a 50-megapixel
// image; scaling the width in bands of rows and then the height in bands of
// columns gives the same pixels (Catmull-Rom at a scale of 1 is the
// identity) with a buffer of scaleBudget, made once per pass: a Scaler made
// for the band's size keeps its weights and buffer (the last, shorter band
// falls back to the plain kernel).
func scale(m image.Image, w, h int, gray bool) image.Image {
	b := m.Bounds()
	mid, scaled := m, false
	if w != b.Dx() {
		dst := canvas(w, b.Dy(), gray)
		rows := min(b.Dy(), max(1, scaleBudget/(32*w)))
		band := draw.CatmullRom.NewScaler(w, rows, b.Dx(), rows)
		for y := 0; y < b.Dy(); y += rows {
			y1 := min(y+rows, b.Dy())
			band.Scale(dst, image.Rect(0, y, w, y1), m, image.Rect(b.Min.X, b.Min.Y+y, b.Max.X, b.Min.Y+y1), draw.Src, nil)
		}
		mid, b, scaled = dst, dst.Bounds(), true
	}
	if h == b.Dy() && scaled {
		return mid
	}
	dst := canvas(w, h, gray)
	if h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), m, b.Min, draw.Src)
		return dst
	}
	cols := min(w, max(1, scaleBudget/(32*b.Dy())))
	band := draw.CatmullRom.NewScaler(cols, h, cols, b.Dy())
	for x := 0; x < w; x += cols {
		x1 := min(x+cols, w)
		band.Scale(dst, image.Rect(x, 0, x1, h), mid, image.Rect(b.Min.X+x, b.Min.Y, b.Min.X+x1, b.Max.Y), draw.Src, nil)
	}
	return dst
}

// flatten puts an image with transparent parts on white, since JPEG has no
// alpha (and would show them black).
func flatten(m image.Image) image.Image {
	rgba, ok := m.(*image.RGBA)
	if !ok || rgba.Opaque() {
		return m
	}
	white := image.NewRGBA(rgba.Rect)
	draw.Draw(white, white.Rect, image.White, image.Point{}, draw.Src)
	draw.Draw(white, white.Rect, rgba, rgba.Rect.Min, draw.Over)
	return white
}
