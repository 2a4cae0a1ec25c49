package images

import (
	"bufio"
	"fmt"
	"image"
	"io"
	"math"
)

// uncompressedSyntaxes are the transfer syntaxes whose pixel data is native
// (not encapsulated), the only ones Molar can render without a codec.
var uncompressedSyntaxes = map[string]bool{implicitLittle: true, explicitLittle: true, explicitBig: true}

// dicomGray renders the first frame of an uncompressed monochrome DICOM image
// as 8-bit gray: stored values through the modality rescale (slope and
// intercept), then the VOI window (Window Center and Width, or else the range
// of the frame's values), with MONOCHROME1 inverted so bone is white.
// Anything else it cannot render (a compressed or color image, unusual
// bit depths) is ErrThumbnailUnavailable.
func dicomGray(r io.ReaderAt, size int64) (*image.Gray, error) {
	h, err := readDICOM(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, fmt.Errorf("images: read DICOM: %w", err)
	}
	if !uncompressedSyntaxes[h.syntax] || (h.pixelDataReached && h.pixelLength == undefinedLength) {
		return nil, fmt.Errorf("%w: DICOM transfer syntax %s is compressed", ErrThumbnailUnavailable, h.syntax)
	}
	if h.bitsStored == 0 {
		h.bitsStored = h.bitsAllocated
	}
	switch {
	case h.samples != 1 || (h.photometric != "MONOCHROME1" && h.photometric != "MONOCHROME2"):
		return nil, fmt.Errorf("%w: DICOM photometric interpretation %q", ErrThumbnailUnavailable, h.photometric)
	case h.bitsAllocated != 8 && h.bitsAllocated != 16, h.bitsStored < 1, h.bitsStored > h.bitsAllocated:
		return nil, fmt.Errorf("%w: DICOM pixels of %d bits in %d", ErrThumbnailUnavailable, h.bitsStored, h.bitsAllocated)
	case h.bitsAllocated == 8 && h.pixelVR == "OW" && h.syntax == explicitBig:
		// Bytes swapped within words: retired, and never seen from a sensor.
		return nil, fmt.Errorf("%w: 8-bit pixels in big endian words", ErrThumbnailUnavailable)
	case h.rows <= 0 || h.cols <= 0:
		return nil, fmt.Errorf("images: the DICOM image has no size")
	case !h.pixelDataReached:
		return nil, fmt.Errorf("images: the DICOM file has no pixel data")
	}
	n := h.rows * h.cols
	frame := int64(n) * int64(h.bitsAllocated/8)
	if int64(h.pixelLength) < frame || h.pixelOffset+frame > size {
		return nil, fmt.Errorf("images: the DICOM pixel data holds %d bytes, the %d×%d frame needs %d", h.pixelLength, h.cols, h.rows, frame)
	}
	pixels := func(each func([]uint16)) error {
		return readSamples(io.NewSectionReader(r, h.pixelOffset, frame), h, n, each)
	}
	if !h.windowed || h.width < 1 {
		lo, hi := math.Inf(1), math.Inf(-1)
		err := pixels(func(raw []uint16) {
			for _, u := range raw {
				v := h.modality(u)
				lo, hi = min(lo, v), max(hi, v)
			}
		})
		if err != nil {
			return nil, err
		}
		// The window that maps the lowest value to black and the highest
		// to white.
		h.width = hi - lo + 1
		h.center = (lo+hi)/2 + 0.5
	}
	lut := h.lut()
	m := image.NewGray(image.Rect(0, 0, h.cols, h.rows))
	at := 0
	err = pixels(func(raw []uint16) {
		for i, u := range raw {
			m.Pix[at+i] = lut[u]
		}
		at += len(raw)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// readSamples reads n samples of h.bitsAllocated bits from r and hands them
// to each in chunks, raw (neither masked nor sign-extended).
func readSamples(r io.Reader, h dicomHeader, n int, each func([]uint16)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	width := h.bitsAllocated / 8
	buf := make([]byte, 32<<10)
	raw := make([]uint16, len(buf)/width)
	for n > 0 {
		k := min(n, len(raw))
		b := buf[:k*width]
		if _, err := io.ReadFull(br, b); err != nil {
			return fmt.Errorf("images: read DICOM pixels: %w", noEOF(err))
		}
		for i := range k {
			if width == 1 {
				raw[i] = uint16(b[i])
			} else {
				raw[i] = h.order.Uint16(b[2*i:])
			}
		}
		each(raw[:k])
		n -= k
	}
	return nil
}

// modality is the value a raw sample stands for: masked to the bits stored,
// sign-extended if pixels are signed, then rescaled (PS3.3 C.11.1).
func (h dicomHeader) modality(raw uint16) float64 {
	v := int32(raw & (1<<h.bitsStored - 1))
	if h.signed && v&(1<<(h.bitsStored-1)) != 0 {
		v -= 1 << h.bitsStored
	}
	return float64(v)*h.slope + h.intercept
}

// lut maps every raw sample to its gray level: the linear VOI window of
// PS3.3 C.11.2.1.2.1 onto 0–255, inverted for MONOCHROME1.
func (h dicomHeader) lut() []uint8 {
	lut := make([]uint8, 1<<h.bitsAllocated)
	c, w := h.center-0.5, h.width-1
	for raw := range lut {
		x := h.modality(uint16(raw))
		var y float64
		switch {
		case x <= c-w/2:
			y = 0
		case x > c+w/2:
			y = 255
		default:
			y = ((x-c)/w + 0.5) * 255
		}
		g := uint8(math.Round(min(max(y, 0), 255)))
		if h.photometric == "MONOCHROME1" {
			g = 255 - g
		}
		lut[raw] = g
	}
	return lut
}
