package images

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// thumbnails inspects data as an upload would be and makes its thumbnails.
func thumbnails(t testing.TB, data []byte, sizes ...int) ([]Rendition, error) {
	t.Helper()
	r := bytes.NewReader(data)
	info, err := Inspect(r, int64(len(data)), DefaultLimits)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	return Thumbnails(r, int64(len(data)), info, DefaultLimits, sizes)
}

func thumbnailsOf(t testing.TB, data []byte, sizes ...int) []Rendition {
	t.Helper()
	got, err := thumbnails(t, data, sizes...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sizes) {
		t.Fatalf("%d renditions for %d sizes", len(got), len(sizes))
	}
	return got
}

// Quadrant colors of the test photo, clockwise from the top left.
var (
	red   = color.RGBA{R: 255, A: 255}
	green = color.RGBA{G: 255, A: 255}
	white = color.RGBA{R: 255, G: 255, B: 255, A: 255}
	blue  = color.RGBA{B: 255, A: 255}
)

// quadrants is a w×h photo whose top left is red, top right green, bottom
// left blue and bottom right white, so every turn and mirror looks different.
func quadrants(w, h int) image.Image {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := [2][2]color.RGBA{{red, green}, {blue, white}}[2*y/h][2*x/w]
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

func encodedImage(t testing.TB, enc func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t testing.TB, m image.Image) []byte {
	t.Helper()
	return encodedImage(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, m, &jpeg.Options{Quality: 95}) })
}

func pngOf(t testing.TB, m image.Image) []byte {
	t.Helper()
	return encodedImage(t, func(b *bytes.Buffer) error { return png.Encode(b, m) })
}

// Metadata the test photos carry, which no thumbnail may.
const (
	testCamera   = "MolarTestCam"
	testGPSDatum = "WGS-84-MOLAR"
)

// exifTIFF is the TIFF structure of an Exif block as a phone writes it:
// IFD0 with Make, Orientation and a pointer to a GPS IFD holding latitude
// and map datum.
func exifTIFF(order binary.ByteOrder, o orientation) []byte {
	var b bytes.Buffer
	w := func(v ...any) {
		for _, x := range v {
			_ = binary.Write(&b, order, x)
		}
	}
	const (
		ifd0     = 8
		make_    = ifd0 + 2 + 3*12 + 4 // 50
		gps      = make_ + 14          // 64
		lat      = gps + 2 + 3*12 + 4  // 106
		datum    = lat + 24            // 130
		ascii    = 2
		short    = 3
		long     = 4
		rational = 5
	)
	type entry struct {
		tag, typ     uint16
		count, value uint32
		inline       string // a value of up to 4 bytes, left-aligned
	}
	ifd := func(entries ...entry) {
		w(uint16(len(entries)))
		for _, e := range entries {
			w(e.tag, e.typ, e.count)
			switch {
			case e.inline != "":
				b.WriteString((e.inline + "\x00\x00\x00\x00")[:4])
			case e.typ == short && e.count == 1:
				w(uint16(e.value), uint16(0))
			default:
				w(e.value)
			}
		}
		w(uint32(0)) // no next IFD
	}
	if order == binary.LittleEndian {
		b.WriteString("II*\x00")
	} else {
		b.WriteString("MM\x00*")
	}
	w(uint32(8))
	ifd(entry{0x010F, ascii, 13, make_, ""}, entry{0x0112, short, 1, uint32(o), ""}, entry{0x8825, long, 1, gps, ""})
	b.WriteString(testCamera + "\x00\x00")
	ifd(entry{0x0001, ascii, 2, 0, "N"}, entry{0x0002, rational, 3, lat, ""}, entry{0x0012, ascii, 13, datum, ""})
	w([6]uint32{37, 1, 33, 1, 1234, 100})
	b.WriteString(testGPSDatum + "\x00")
	return b.Bytes()
}

// withExif puts an APP1 Exif segment right after a JPEG's SOI marker.
func withExif(jpg, tiff []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, 0xFF, 0xE1)
	out = binary.BigEndian.AppendUint16(out, uint16(2+len(seg)))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestThumbnailSizes(t *testing.T) {
	t.Parallel()
	png16 := func(w, h int) []byte {
		m := image.NewGray16(image.Rect(0, 0, w, h))
		for i := range m.Pix {
			m.Pix[i] = uint8(i)
		}
		return pngOf(t, m)
	}
	for name, tc := range map[string]struct {
		data          []byte
		gray          bool
		grid, preview [2]int
	}{
		"landscape panoramic": {jpegOf(t, picture(2400, 1200)), true, [2]int{320, 160}, [2]int{1600, 800}},
		"portrait photo":      {jpegOf(t, quadrants(1000, 2000)), false, [2]int{160, 320}, [2]int{800, 1600}},
		"odd sizes":           {jpegOf(t, quadrants(1999, 1001)), false, [2]int{320, 160}, [2]int{1600, 801}},
		"square":              {jpegOf(t, picture(500, 500)), true, [2]int{320, 320}, [2]int{500, 500}},
		"smaller than grid":   {jpegOf(t, quadrants(200, 100)), false, [2]int{200, 100}, [2]int{200, 100}},
		"16-bit gray png":     {png16(700, 350), true, [2]int{320, 160}, [2]int{700, 350}},
		"gray tiff":           {encoded(t, func(b *bytes.Buffer, m image.Image) error { return tiff.Encode(b, m, nil) }, 400, 640), true, [2]int{200, 320}, [2]int{400, 640}},
		"bmp":                 {encodedImage(t, func(b *bytes.Buffer) error { return bmp.Encode(b, quadrants(640, 480)) }), false, [2]int{320, 240}, [2]int{640, 480}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := thumbnailsOf(t, tc.data, GridSize, PreviewSize)
			for i, want := range [][2]int{tc.grid, tc.preview} {
				r := got[i]
				if r.Size != []int{GridSize, PreviewSize}[i] || r.MediaType != JPEG || r.Width != want[0] || r.Height != want[1] {
					t.Errorf("rendition %d: %d %s %d×%d, want %d×%d", i, r.Size, r.MediaType, r.Width, r.Height, want[0], want[1])
				}
				m, err := jpeg.Decode(bytes.NewReader(r.Data))
				if err != nil {
					t.Fatal(err)
				}
				if b := m.Bounds(); b.Dx() != r.Width || b.Dy() != r.Height {
					t.Errorf("rendition %d encodes %v, says %d×%d", i, b, r.Width, r.Height)
				}
				if _, isGray := m.(*image.Gray); isGray != tc.gray {
					t.Errorf("rendition %d is a %T; gray wanted: %v", i, m, tc.gray)
				}
			}
		})
	}
}

func TestThumbnailOrientation(t *testing.T) {
	t.Parallel()
	// The corners as they must be seen (top left, top right, bottom left,
	// bottom right) for a stored red-green / blue-white photo.
	for o, corners := range map[orientation][4]color.RGBA{
		1: {red, green, blue, white},
		2: {green, red, white, blue},
		3: {white, blue, green, red},
		4: {blue, white, red, green},
		5: {red, blue, green, white},
		6: {blue, red, white, green},
		7: {white, green, blue, red},
		8: {green, white, red, blue},
	} {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			t.Run(fmt.Sprintf("%d %s", o, order), func(t *testing.T) {
				t.Parallel()
				data := withExif(jpegOf(t, quadrants(96, 48)), exifTIFF(order, o))
				r := thumbnailsOf(t, data, 64)[0]
				w, h := 64, 32
				if o >= 5 {
					w, h = h, w
				}
				if r.Width != w || r.Height != h {
					t.Fatalf("%d×%d, want %d×%d", r.Width, r.Height, w, h)
				}
				m, err := jpeg.Decode(bytes.NewReader(r.Data))
				if err != nil {
					t.Fatal(err)
				}
				// Corners inset past the JPEG blocks' and the scaler's blur.
				at := [4]image.Point{{4, 4}, {w - 5, 4}, {4, h - 5}, {w - 5, h - 5}}
				for i, p := range at {
					if got := color.RGBAModel.Convert(m.At(p.X, p.Y)).(color.RGBA); !near(got, corners[i]) {
						t.Errorf("pixel %v is %v, want %v", p, got, corners[i])
					}
				}
			})
		}
	}
}

func near(a, b color.RGBA) bool {
	return absDiff(a.R, b.R) < 48 && absDiff(a.G, b.G) < 48 && absDiff(a.B, b.B) < 48
}

func TestTIFFOrientation(t *testing.T) {
	t.Parallel()
	for o := orientation(1); o <= 8; o++ {
		if got := tiffOrientation(bytes.NewReader(exifTIFF(binary.BigEndian, o))); got != o {
			t.Errorf("read %d, want %d", got, o)
		}
	}
	for name, data := range map[string][]byte{
		"out of range": exifTIFF(binary.LittleEndian, 9),
		"no TIFF":      []byte("not a tiff at all"),
		"IFD past end": []byte("II*\x00\xff\xff\x00\x00"),
		"cut in IFD":   exifTIFF(binary.LittleEndian, 6)[:20],
	} {
		if got := tiffOrientation(bytes.NewReader(data)); got != 1 {
			t.Errorf("%s: read %d, want 1", name, got)
		}
	}
}

func TestThumbnailStripsMetadata(t *testing.T) {
	t.Parallel()
	data := withExif(jpegOf(t, quadrants(400, 300)), exifTIFF(binary.LittleEndian, 1))
	for _, s := range []string{"Exif", testCamera, testGPSDatum} {
		if !bytes.Contains(data, []byte(s)) {
			t.Fatalf("the test photo lacks %q", s)
		}
	}
	for _, r := range thumbnailsOf(t, data, GridSize, PreviewSize) {
		for _, s := range []string{"Exif", testCamera, testGPSDatum, "GPS"} {
			if bytes.Contains(r.Data, []byte(s)) {
				t.Errorf("%d: the thumbnail holds %q", r.Size, s)
			}
		}
		// No application segment at all (APP0–APP15) before the image data.
		for pos := 2; pos+4 <= len(r.Data); {
			marker := r.Data[pos+1]
			if marker == 0xDA {
				break
			}
			if marker >= 0xE0 && marker <= 0xEF {
				t.Errorf("%d: the thumbnail has an APP%d segment", r.Size, marker-0xE0)
			}
			pos += 2 + int(binary.BigEndian.Uint16(r.Data[pos+2:]))
		}
	}
}

func TestThumbnailRefuses(t *testing.T) {
	t.Parallel()
	jpg := jpegOf(t, quadrants(300, 200))
	pngData := pngOf(t, quadrants(300, 200))
	info := func(data []byte) Info {
		i, err := Inspect(bytes.NewReader(data), int64(len(data)), DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	for name, tc := range map[string]struct {
		data []byte
		info Info
		lim  Limits
	}{
		// The header is whole, the scan is cut: only decoding finds out.
		"jpeg cut in its image data": {jpg[:len(jpg)/2], info(jpg[:len(jpg)/2]), DefaultLimits},
		"png cut in its image data":  {pngData[:len(pngData)/2], info(pngData[:len(pngData)/2]), DefaultLimits},
		"not an image":               {[]byte("plain text, not a picture"), Info{Format: JPEG, Width: 1, Height: 1}, DefaultLimits},
		"not the inspected file":     {jpg, Info{Format: JPEG, Width: 30, Height: 20}, DefaultLimits},
		"beyond the pixel limit":     {jpg, info(jpg), Limits{MaxPixels: 300*200 - 1}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Thumbnails(bytes.NewReader(tc.data), int64(len(tc.data)), tc.info, tc.lim, []int{GridSize})
			if err == nil || errors.Is(err, ErrThumbnailUnavailable) || got != nil {
				t.Errorf("got %d renditions, %v; want an error", len(got), err)
			}
		})
	}
}

func TestThumbnailTooDeepToDecode(t *testing.T) {
	t.Parallel()
	// 16-bit RGBA takes 8 bytes a pixel: twice what the limit allows.
	data := pngOf(t, image.NewRGBA64(image.Rect(0, 0, 100, 100)))
	lim := Limits{MaxPixels: 10_000}
	info, err := Inspect(bytes.NewReader(data), int64(len(data)), lim)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Thumbnails(bytes.NewReader(data), int64(len(data)), info, lim, []int{GridSize})
	if !errors.Is(err, ErrThumbnailUnavailable) {
		t.Errorf("got %v, want ErrThumbnailUnavailable", err)
	}
}
