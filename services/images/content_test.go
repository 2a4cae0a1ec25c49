package images

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/molar-dental/molar/services"
)

func picture(w, h int) image.Image {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetGray(x, y, color.Gray{Y: uint8(x ^ y)})
		}
	}
	return m
}

func encoded(t *testing.T, enc func(*bytes.Buffer, image.Image) error, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b, picture(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpLossless is the header of a lossless WebP of w×h (RIFF, VP8L chunk):
// all DecodeConfig reads.
func webpLossless(w, h int) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+8+5))
	b.WriteString("WEBPVP8L")
	_ = binary.Write(&b, binary.LittleEndian, uint32(5))
	b.WriteByte(0x2f)
	_ = binary.Write(&b, binary.LittleEndian, uint32(w-1)|uint32(h-1)<<14)
	return b.Bytes()
}

// pngHeader is a PNG signature and an IHDR claiming w×h, with a valid CRC.
func pngHeader(w, h uint32) []byte {
	var chunk bytes.Buffer
	chunk.WriteString("IHDR")
	_ = binary.Write(&chunk, binary.BigEndian, w)
	_ = binary.Write(&chunk, binary.BigEndian, h)
	chunk.Write([]byte{8, 2, 0, 0, 0})
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	_ = binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk.Bytes())
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk.Bytes()))
	return b.Bytes()
}

// dicomFile builds a small DICOM Part 10 file as an intraoral sensor would
// write it: the meta group, a sequence of undefined length (with an item of
// undefined length) before the image group, Rows and Columns, and pixel data.
func dicomFile(syntax string, rows, cols uint16) []byte {
	w := newDICOM(syntax)
	w.str(0x0008, 0x0060, "CS", "IO")
	w.sequence(0x0008, 0x1140)
	w.str(0x0010, 0x0010, "PN", "HONG^GILDONG")
	w.us(0x0028, 0x0010, rows)
	w.us(0x0028, 0x0011, cols)
	w.words(make([]uint16, int(rows)*int(cols)))
	return w.b.Bytes()
}

func TestInspectAcceptsByContent(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		data   []byte
		format Format
		w, h   int
		syntax string
	}{
		"jpeg":                  {encoded(t, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) }, 64, 32), JPEG, 64, 32, ""},
		"png":                   {encoded(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }, 30, 40), PNG, 30, 40, ""},
		"bmp":                   {encoded(t, func(b *bytes.Buffer, m image.Image) error { return bmp.Encode(b, m) }, 17, 9), BMP, 17, 9, ""},
		"tiff":                  {encoded(t, func(b *bytes.Buffer, m image.Image) error { return tiff.Encode(b, m, nil) }, 20, 10), TIFF, 20, 10, ""},
		"webp":                  {webpLossless(300, 150), WebP, 300, 150, ""},
		"dicom explicit little": {dicomFile("1.2.840.10008.1.2.1", 150, 300), DICOM, 300, 150, "1.2.840.10008.1.2.1"},
		"dicom implicit little": {dicomFile(implicitLittle, 40, 60), DICOM, 60, 40, implicitLittle},
		"dicom jpeg compressed": {dicomFile("1.2.840.10008.1.2.4.50", 20, 30), DICOM, 30, 20, "1.2.840.10008.1.2.4.50"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			info, err := Inspect(bytes.NewReader(tc.data), int64(len(tc.data)), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != tc.format || info.Width != tc.w || info.Height != tc.h || info.TransferSyntax != tc.syntax {
				t.Errorf("got %+v, want %s %d×%d %q", info, tc.format, tc.w, tc.h, tc.syntax)
			}
		})
	}
}

func TestInspectRefuses(t *testing.T) {
	t.Parallel()
	small := Limits{MaxBytes: 1 << 20, MaxPixels: 80_000_000}
	jpg := encoded(t, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) }, 64, 32)
	for name, tc := range map[string]struct {
		data []byte
		size int64
		rule string
	}{
		"empty":                         {nil, 0, RuleEmpty},
		"over the size limit":           {jpg, 2 << 20, RuleTooLarge},
		"text named .jpg":               {[]byte("hello, this is not a picture"), 28, RuleUnsupported},
		"pdf":                           {[]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), 22, RuleUnsupported},
		"truncated jpeg":                {jpg[:20], 20, RuleCorrupt},
		"png of 10000×9000 (a bomb)":    {pngHeader(10000, 9000), int64(len(pngHeader(10000, 9000))), RuleTooManyPx},
		"png of zero width":             {pngHeader(0, 10), int64(len(pngHeader(0, 10))), RuleCorrupt},
		"dicom without rows or columns": {dicomFile("1.2.840.10008.1.2.1", 0, 0), int64(len(dicomFile("1.2.840.10008.1.2.1", 0, 0))), RuleCorrupt},
		"dicom cut in its header":       {dicomFile("1.2.840.10008.1.2.1", 10, 10)[:180], 180, RuleCorrupt},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Inspect(bytes.NewReader(tc.data), tc.size, small)
			var e *services.Error
			if !errors.As(err, &e) || e.Code != services.Invalid || len(e.Violations) != 1 {
				t.Fatalf("got %v, want an invalid file", err)
			}
			if v := e.Violations[0]; v.Field != "file" || v.Rule != tc.rule {
				t.Errorf("violation %+v, want rule %s", v, tc.rule)
			}
		})
	}
}
