package images

import (
	"bytes"
	"encoding/binary"
	"image"
	"io"
)

// orientation is the EXIF Orientation tag (0x0112): how the stored pixels
// must be turned to be seen upright. 1 is upright; 2–8 mirror and rotate as
// TIFF 6.0 defines.
type orientation int

// exifOrientation reads the orientation of a JPEG (from its APP1 Exif
// segment) or a TIFF (from its first IFD); 1 when there is none or it
// cannot be read, since a photo shown turned is better than none.
func exifOrientation(r io.ReaderAt, size int64, f Format) orientation {
	switch f {
	case JPEG:
		if exif := jpegExif(r, size); exif != nil {
			return tiffOrientation(bytes.NewReader(exif))
		}
	case TIFF:
		return tiffOrientation(r)
	}
	return 1
}

// jpegExif returns the TIFF structure inside a JPEG's APP1 Exif segment, or
// nil. Only the marker segments before the image data are read.
func jpegExif(r io.ReaderAt, size int64) []byte {
	var h [4]byte
	for pos := int64(2); pos+4 <= size; {
		if _, err := r.ReadAt(h[:], pos); err != nil || h[0] != 0xFF {
			return nil
		}
		marker := h[1]
		switch {
		case marker == 0xFF: // fill byte
			pos++
			continue
		case marker == 0x01, marker >= 0xD0 && marker <= 0xD7: // no length
			pos += 2
			continue
		case marker == 0xDA, marker == 0xD9: // start of scan, end of image
			return nil
		}
		length := int64(binary.BigEndian.Uint16(h[2:4]))
		if length < 2 {
			return nil
		}
		if marker == 0xE1 && length >= 2+6+8 {
			seg := make([]byte, length-2)
			if _, err := r.ReadAt(seg, pos+4); err != nil {
				return nil
			}
			if bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
				return seg[6:]
			}
		}
		pos += 2 + length
	}
	return nil
}

// tiffOrientation reads the Orientation tag of the first IFD of the TIFF
// structure r holds.
func tiffOrientation(r io.ReaderAt) orientation {
	var head [8]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return 1
	}
	var order binary.ByteOrder
	switch string(head[:4]) {
	case "II*\x00":
		order = binary.LittleEndian
	case "MM\x00*":
		order = binary.BigEndian
	default:
		return 1
	}
	ifd := int64(order.Uint32(head[4:8]))
	var count [2]byte
	if _, err := r.ReadAt(count[:], ifd); err != nil {
		return 1
	}
	// An IFD is sorted by tag; Orientation comes early, so a bounded read
	// suffices even for a hostile count.
	n := min(int(order.Uint16(count[:])), 256)
	var entry [12]byte
	for i := range n {
		if _, err := r.ReadAt(entry[:], ifd+2+int64(i)*12); err != nil {
			return 1
		}
		tag, typ := order.Uint16(entry[0:2]), order.Uint16(entry[2:4])
		if tag == 0x0112 && typ == 3 { // SHORT
			if o := orientation(order.Uint16(entry[8:10])); o >= 1 && o <= 8 {
				return o
			}
			return 1
		}
	}
	return 1
}

// upright returns m turned as o says. m is an *image.Gray or *image.RGBA
// with its origin at (0, 0), as scale makes them.
func upright(m image.Image, o orientation) image.Image {
	if o <= 1 || o > 8 {
		return m
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if o >= 5 {
		w, h = h, w
	}
	switch s := m.(type) {
	case *image.Gray:
		d := image.NewGray(image.Rect(0, 0, w, h))
		turn(d.Pix, d.Stride, s.Pix, s.Stride, 1, b.Dx(), b.Dy(), o)
		return d
	case *image.RGBA:
		d := image.NewRGBA(image.Rect(0, 0, w, h))
		turn(d.Pix, d.Stride, s.Pix, s.Stride, 4, b.Dx(), b.Dy(), o)
		return d
	}
	return m
}

// turn copies the sw×sh pixels of bpp bytes in src into dst as orientation
// o says: the displayed pixel (x, y) is the stored one computed below.
func turn(dst []byte, dstStride int, src []byte, srcStride, bpp, sw, sh int, o orientation) {
	dw, dh := sw, sh
	if o >= 5 {
		dw, dh = sh, sw
	}
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2: // mirrored left to right
				sx, sy = sw-1-x, y
			case 3: // turned 180°
				sx, sy = sw-1-x, sh-1-y
			case 4: // mirrored top to bottom
				sx, sy = x, sh-1-y
			case 5: // transposed
				sx, sy = y, x
			case 6: // to be turned 90° clockwise
				sx, sy = y, sh-1-x
			case 7: // transversed
				sx, sy = sw-1-y, sh-1-x
			case 8: // to be turned 90° counter-clockwise
				sx, sy = sw-1-y, x
			default:
				sx, sy = x, y
			}
			copy(dst[y*dstStride+x*bpp:][:bpp], src[sy*srcStride+sx*bpp:][:bpp])
		}
	}
}
