package images

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"golang.org/x/image/draw"
)

// panoramic is a w×h radiograph-like picture: smooth arches of gray with
// fine texture, which is what JPEG and the scaler see in a dental
// panoramic; color adds a tint, as a photo of the face would have.
func panoramic(w, h int, colored bool) image.Image {
	var m draw.Image = image.NewGray(image.Rect(0, 0, w, h))
	if colored {
		m = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			v := 128 + 80*math.Sin(6*fx)*math.Cos(3*fy) + 20*math.Sin(float64(x*y%97))
			g := uint8(min(max(v, 0), 255))
			switch m := m.(type) {
			case *image.Gray:
				m.Pix[y*m.Stride+x] = g
			case *image.RGBA:
				i := y*m.Stride + 4*x
				m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = g, uint8(float64(g)*0.8), uint8(float64(g)*0.6), 255
			}
		}
	}
	return m
}

// heapPeak runs f while sampling the live heap every millisecond and
// reports the most it grew above where it started, in MB.
func heapPeak(b *testing.B, f func()) {
	b.Helper()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		base := read()
		stop, done := make(chan struct{}), make(chan uint64)
		go func() {
			top := base
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				top = max(top, read())
				select {
				case <-stop:
					done <- top - base
					return
				case <-tick.C:
				}
			}
		}()
		b.StartTimer()
		f()
		close(stop)
		peak = max(peak, <-done)
	}
	b.ReportMetric(float64(peak)/1e6, "peak-MB")
}

// BenchmarkThumbnailsPanoramic makes both thumbnails of a 3000×1500
// panoramic radiograph (gray) and of a photo of the same size (color).
func BenchmarkThumbnailsPanoramic(b *testing.B) {
	for _, colored := range []bool{false, true} {
		name := map[bool]string{false: "gray", true: "color"}[colored]
		b.Run(name, func(b *testing.B) {
			data := jpegOf(b, panoramic(3000, 1500, colored))
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			heapPeak(b, func() { thumbnailsOf(b, data, GridSize, PreviewSize) })
		})
	}
}

// BenchmarkThumbnails50MP makes both thumbnails of a 50-megapixel
// (10000×5000) color JPEG, decoded as 4:2:0 YCbCr, and PNG, decoded as
// 8-bit RGBA: the memory a large upload costs the thumbnail job.
func BenchmarkThumbnails50MP(b *testing.B) {
	m := panoramic(10000, 5000, true)
	var p bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&p, m); err != nil {
		b.Fatal(err)
	}
	for name, data := range map[string][]byte{"jpeg": jpegOf(b, m), "png": p.Bytes()} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			heapPeak(b, func() { thumbnailsOf(b, data, GridSize, PreviewSize) })
		})
	}
}

// BenchmarkScale compares ways to scale a decoded color JPEG, of a
// panoramic's size and of 50 megapixels, to the preview size: the banded
// Catmull-Rom Molar uses, the scaler's own Catmull-Rom over the whole image,
// and its approximate bilinear (fast, but it skips pixels and so aliases).
func BenchmarkScale(b *testing.B) {
	for _, size := range []image.Point{{3000, 1500}, {10000, 5000}} {
		m, _, err := image.Decode(bytes.NewReader(jpegOf(b, panoramic(size.X, size.Y, true))))
		if err != nil {
			b.Fatal(err)
		}
		w, h := fit(size.X, size.Y, PreviewSize)
		for _, way := range []struct {
			name string
			f    func()
		}{
			{"banded-catmullrom", func() { scale(m, w, h, false) }},
			{"whole-catmullrom", func() {
				draw.CatmullRom.Scale(image.NewRGBA(image.Rect(0, 0, w, h)), image.Rect(0, 0, w, h), m, m.Bounds(), draw.Src, nil)
			}},
			{"approxbilinear", func() {
				draw.ApproxBiLinear.Scale(image.NewRGBA(image.Rect(0, 0, w, h)), image.Rect(0, 0, w, h), m, m.Bounds(), draw.Src, nil)
			}},
		} {
			b.Run(fmt.Sprintf("%dx%d/%s", size.X, size.Y, way.name), func(b *testing.B) {
				b.ReportAllocs()
				heapPeak(b, way.f)
			})
		}
	}
}
