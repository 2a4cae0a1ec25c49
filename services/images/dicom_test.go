package images

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"testing"
)

// dicomWriter builds DICOM Part 10 files for tests: the preamble, a meta
// group naming the transfer syntax, then data set elements in its layout.
type dicomWriter struct {
	b        bytes.Buffer
	order    binary.ByteOrder
	explicit bool
}

func newDICOM(syntax string) *dicomWriter {
	w := &dicomWriter{order: binary.LittleEndian, explicit: syntax != implicitLittle}
	w.b.Write(make([]byte, 128))
	w.b.WriteString("DICM")
	// The meta group is explicit VR little endian whatever follows.
	meta := &dicomWriter{order: binary.LittleEndian, explicit: true}
	meta.str(0x0002, 0x0010, "UI", syntax)
	w.b.Write(meta.b.Bytes())
	if syntax == explicitBig {
		w.order = binary.BigEndian
	}
	return w
}

// raw writes values in the data set's byte order.
func (w *dicomWriter) raw(v ...any) {
	for _, x := range v {
		_ = binary.Write(&w.b, w.order, x)
	}
}

// header writes an element's tag, VR and length.
func (w *dicomWriter) header(group, el uint16, vr string, length uint32) {
	w.raw(group, el)
	switch {
	case !w.explicit:
		w.raw(length)
	case longVR[vr]:
		w.b.WriteString(vr + "\x00\x00")
		w.raw(length)
	default:
		w.b.WriteString(vr)
		w.raw(uint16(length))
	}
}

func (w *dicomWriter) elem(group, el uint16, vr string, value []byte) {
	w.header(group, el, vr, uint32(len(value)))
	w.b.Write(value)
}

// str writes a text value, padded to an even length as DICOM requires.
func (w *dicomWriter) str(group, el uint16, vr, s string) {
	if len(s)%2 == 1 {
		s += map[bool]string{true: "\x00", false: " "}[vr == "UI"]
	}
	w.elem(group, el, vr, []byte(s))
}

func (w *dicomWriter) us(group, el uint16, v uint16) {
	b := make([]byte, 2)
	w.order.PutUint16(b, v)
	w.elem(group, el, "US", b)
}

// sequence writes an empty-ish sequence of undefined length holding one
// item of undefined length, as modalities write them.
func (w *dicomWriter) sequence(group, el uint16) {
	w.header(group, el, "SQ", undefinedLength)
	w.raw(uint16(0xFFFE), uint16(0xE000), uint32(undefinedLength))
	w.str(0x0008, 0x1150, "UI", "1.2.3.4")
	w.raw(uint16(0xFFFE), uint16(0xE00D), uint32(0))
	w.raw(uint16(0xFFFE), uint16(0xE0DD), uint32(0))
}

// pixelModule writes the attributes every image has: samples per pixel,
// photometric interpretation, rows, columns and bits allocated.
func (w *dicomWriter) pixelModule(samples uint16, photometric string, rows, cols, bits uint16) {
	w.us(0x0028, 0x0002, samples)
	w.str(0x0028, 0x0004, "CS", photometric)
	w.us(0x0028, 0x0010, rows)
	w.us(0x0028, 0x0011, cols)
	w.us(0x0028, 0x0100, bits)
}

// words writes 16-bit pixel data.
func (w *dicomWriter) words(px []uint16) {
	w.header(0x7FE0, 0x0010, "OW", uint32(2*len(px)))
	w.raw(px)
}

// monochrome describes a rows×cols monochrome image of 8 or 16 bits.
type monochrome struct {
	syntax, photometric string
	rows, cols          uint16
	bitsStored          uint16
	signed              bool
	window              string // "center\width…", or none
	intercept           string
}

func (m monochrome) file(px []uint16) []byte {
	w := newDICOM(m.syntax)
	w.str(0x0008, 0x0060, "CS", "IO")
	w.sequence(0x0008, 0x1140)
	w.str(0x0010, 0x0010, "PN", "HONG^GILDONG")
	// Up to 8 bits stored, 8 are allocated: one byte a pixel.
	allocated := uint16(16)
	if m.bitsStored <= 8 {
		allocated = 8
	}
	w.pixelModule(1, m.photometric, m.rows, m.cols, allocated)
	w.us(0x0028, 0x0101, m.bitsStored)
	w.us(0x0028, 0x0102, m.bitsStored-1)
	w.us(0x0028, 0x0103, map[bool]uint16{false: 0, true: 1}[m.signed])
	if m.window != "" {
		center, width, _ := bytes.Cut([]byte(m.window), []byte{' '})
		w.str(0x0028, 0x1050, "DS", string(center))
		w.str(0x0028, 0x1051, "DS", string(width))
	}
	if m.intercept != "" {
		w.str(0x0028, 0x1052, "DS", m.intercept)
		w.str(0x0028, 0x1053, "DS", "1")
	}
	if allocated == 8 {
		b8 := make([]byte, len(px))
		for i, v := range px {
			b8[i] = uint8(v)
		}
		w.elem(0x7FE0, 0x0010, "OB", b8)
	} else {
		w.words(px)
	}
	return w.b.Bytes()
}

func TestDICOMGrayWindows(t *testing.T) {
	t.Parallel()
	// A CT-like 2×2 image: stored 0, 1064, 1164, 3000 with intercept -1024
	// are -1024, 40, 140 and 1976, in the window 40/400 (from -160 to 240).
	ct := []uint16{0, 1064, 1164, 3000}
	for name, tc := range map[string]struct {
		image monochrome
		px    []uint16
		want  []uint8
	}{
		"explicit little, window": {monochrome{explicitLittle, "MONOCHROME2", 2, 2, 12, false, `40\50 400\500`, "-1024"}, ct, []uint8{0, 128, 192, 255}},
		"implicit little, window": {monochrome{implicitLittle, "MONOCHROME2", 2, 2, 12, false, "40 400", "-1024"}, ct, []uint8{0, 128, 192, 255}},
		"explicit big, window":    {monochrome{explicitBig, "MONOCHROME2", 2, 2, 12, false, "40 400", "-1024"}, ct, []uint8{0, 128, 192, 255}},
		"MONOCHROME1 inverted":    {monochrome{explicitLittle, "MONOCHROME1", 2, 2, 12, false, "40 400", "-1024"}, ct, []uint8{255, 127, 63, 0}},
		// Without a window the range of values is spread over 0–255; bits
		// above the 12 stored are noise and ignored; -100 is 0xF9C.
		"signed 12 bits, no window": {monochrome{explicitLittle, "MONOCHROME2", 2, 2, 12, true, "", ""}, []uint16{0xFF9C, 0xF000, 50, 100}, []uint8{0, 128, 191, 255}},
		"8 bits, no window":         {monochrome{explicitLittle, "MONOCHROME2", 2, 2, 8, false, "", ""}, []uint16{10, 20, 30, 40}, []uint8{0, 85, 170, 255}},
		"8 bits, window":            {monochrome{implicitLittle, "MONOCHROME1", 2, 2, 8, false, "100.5 100", ""}, []uint16{0, 50, 100, 255}, []uint8{255, 255, 127, 0}},
		"unsigned, no window":       {monochrome{explicitLittle, "MONOCHROME2", 1, 4, 16, false, "", ""}, []uint16{1000, 2000, 3000, 4000}, []uint8{0, 85, 170, 255}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := tc.image.file(tc.px)
			m, err := dicomGray(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if m.Rect.Dx() != int(tc.image.cols) || m.Rect.Dy() != int(tc.image.rows) {
				t.Fatalf("size %v, want %d×%d", m.Rect, tc.image.cols, tc.image.rows)
			}
			if !bytes.Equal(m.Pix, tc.want) {
				t.Errorf("gray levels %v, want %v", m.Pix, tc.want)
			}
		})
	}
}

func TestDICOMThumbnail(t *testing.T) {
	t.Parallel()
	// 64×32: the left half soft tissue (40, mid-gray), the right half bone
	// (1976, white).
	px := make([]uint16, 64*32)
	for i := range px {
		px[i] = 1064
		if i%64 >= 32 {
			px[i] = 3000
		}
	}
	for name, want := range map[string][2]uint8{"MONOCHROME2": {128, 255}, "MONOCHROME1": {127, 0}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := monochrome{explicitLittle, name, 32, 64, 12, false, "40 400", "-1024"}.file(px)
			got := thumbnailsOf(t, data, GridSize, PreviewSize)
			for _, r := range got {
				if r.Width != 64 || r.Height != 32 {
					t.Errorf("%d: %d×%d, want 64×32 (never enlarged)", r.Size, r.Width, r.Height)
				}
				m, err := jpeg.Decode(bytes.NewReader(r.Data))
				if err != nil {
					t.Fatal(err)
				}
				g, ok := m.(*image.Gray)
				if !ok {
					t.Fatalf("a %T, want gray", m)
				}
				if l, r := g.GrayAt(8, 16).Y, g.GrayAt(56, 16).Y; absDiff(l, want[0]) > 3 || absDiff(r, want[1]) > 3 {
					t.Errorf("left %d right %d, want %d and %d", l, r, want[0], want[1])
				}
			}
		})
	}
}

func TestDICOMThumbnailUnavailable(t *testing.T) {
	t.Parallel()
	compressed := func(syntax string) []byte {
		w := newDICOM(syntax)
		w.pixelModule(1, "MONOCHROME2", 16, 16, 16)
		// Encapsulated: an offset table item, one fragment, the delimiter.
		w.header(0x7FE0, 0x0010, "OB", undefinedLength)
		w.raw(uint16(0xFFFE), uint16(0xE000), uint32(0))
		w.raw(uint16(0xFFFE), uint16(0xE000), uint32(4), []byte{0xFF, 0xD8, 0xFF, 0xD9})
		w.raw(uint16(0xFFFE), uint16(0xE0DD), uint32(0))
		return w.b.Bytes()
	}
	color := func() []byte {
		w := newDICOM(explicitLittle)
		w.pixelModule(3, "RGB", 2, 2, 8)
		w.elem(0x7FE0, 0x0010, "OB", make([]byte, 12))
		return w.b.Bytes()
	}
	for name, data := range map[string][]byte{
		"jpeg baseline": compressed("1.2.840.10008.1.2.4.50"),
		"jpeg lossless": compressed("1.2.840.10008.1.2.4.70"),
		"jpeg-ls":       compressed("1.2.840.10008.1.2.4.80"),
		"jpeg 2000":     compressed("1.2.840.10008.1.2.4.90"),
		"rle":           compressed("1.2.840.10008.1.2.5"),
		"encapsulated":  compressed(explicitLittle),
		"rgb":           color(),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := thumbnails(t, data, GridSize, PreviewSize)
			if !errors.Is(err, ErrThumbnailUnavailable) {
				t.Errorf("got %v, want ErrThumbnailUnavailable", err)
			}
		})
	}
}

func TestDICOMThumbnailCorrupt(t *testing.T) {
	t.Parallel()
	m := monochrome{explicitLittle, "MONOCHROME2", 32, 32, 16, false, "", ""}
	whole := m.file(make([]uint16, 32*32))
	short := m.file(make([]uint16, 32*32-1)) // a frame one pixel short
	for name, data := range map[string][]byte{
		"pixel data cut off":                whole[:len(whole)-100],
		"pixel data shorter than its frame": short,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := thumbnails(t, data, GridSize)
			if err == nil || errors.Is(err, ErrThumbnailUnavailable) {
				t.Errorf("got %v, want an error reading the file", err)
			}
		})
	}
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}
