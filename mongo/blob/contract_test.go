package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/images"
)

// failingReader yields n bytes, then fails, as an upload cut short does.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

// read opens key, reads it whole and checks what Open reported about it.
func read(t *testing.T, s images.Blobs, key string) []byte {
	t.Helper()
	r, b, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if b.Size != int64(len(data)) || b.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("open reports %+v for %d bytes", b, len(data))
	}
	return data
}

func put(t *testing.T, s images.Blobs, key string, data []byte) {
	t.Helper()
	b, err := s.Put(context.Background(), key, bytes.NewReader(data))
	sum := sha256.Sum256(data)
	if err != nil || b.Size != int64(len(data)) || b.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("put %s: %+v %v", key, b, err)
	}
}

func missing(t *testing.T, s images.Blobs, key, what string) {
	t.Helper()
	if _, _, err := s.Open(context.Background(), key); services.ErrorCode(err) != services.NotFound {
		t.Errorf("%s: open %s: %v, want not found", what, key, err)
	}
}

// testBlobs is the contract every images.Blobs adapter passes. big is a
// length past anything the adapter holds in memory at once (an S3 part), so
// that both of its ways of writing are tried.
func testBlobs(t *testing.T, s images.Blobs, big int) {
	ctx := context.Background()
	small := bytes.Repeat([]byte("panoramic "), 100_000)
	large := bytes.Repeat([]byte("cbct slice "), big/11+1000)

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		for name, data := range map[string][]byte{"small": small, "large": large, "empty": {}} {
			key := "round-trip/" + name
			put(t, s, key, data)
			if got := read(t, s, key); !bytes.Equal(got, data) {
				t.Errorf("%s: read back differs", name)
			}
		}
		// The reader seeks.
		r, _, err := s.Open(ctx, "round-trip/large")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		at := int64(len(large) - 11)
		if _, err := r.Seek(at, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if tail, err := io.ReadAll(r); err != nil || !bytes.Equal(tail, large[at:]) {
			t.Errorf("after seek: %q %v", tail, err)
		}
	})

	t.Run("a cut upload leaves the key as it was", func(t *testing.T) {
		t.Parallel()
		const key = "cut/original"
		put(t, s, key, small)
		for _, n := range []int{10, big + 1000} {
			if _, err := s.Put(ctx, key, &failingReader{n: n}); err == nil {
				t.Fatalf("an upload cut after %d bytes was stored", n)
			}
			if got := read(t, s, key); !bytes.Equal(got, small) {
				t.Fatalf("an upload cut after %d bytes changed the stored blob", n)
			}
			if _, err := s.Put(ctx, "cut/new", &failingReader{n: n}); err == nil {
				t.Fatalf("an upload cut after %d bytes was stored", n)
			}
			missing(t, s, "cut/new", "a cut first upload")
		}
	})

	t.Run("a cancelled request stores nothing", func(t *testing.T) {
		t.Parallel()
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Put(cancelled, "cancelled/original", bytes.NewReader(small)); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled put: %v", err)
		}
		missing(t, s, "cancelled/original", "a cancelled upload")
	})

	t.Run("replace", func(t *testing.T) {
		t.Parallel()
		const key = "replace/original"
		for _, data := range [][]byte{small, large, []byte("after")} {
			put(t, s, key, data)
			if got := read(t, s, key); !bytes.Equal(got, data) {
				t.Fatalf("replace by %d bytes not seen", len(data))
			}
		}
	})

	t.Run("delete twice", func(t *testing.T) {
		t.Parallel()
		const key = "delete/original"
		put(t, s, key, small)
		for range 2 {
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		missing(t, s, key, "after delete")
		missing(t, s, "delete/never-written", "never written")
	})

	t.Run("bad keys are refused", func(t *testing.T) {
		t.Parallel()
		for _, key := range []string{"", "../etc/passwd", "/abs", "a/../../b", "A", "a//b", "a/", ".hidden", ".staging/x", `a\b`, strings.Repeat("a", 201)} {
			if _, err := s.Put(ctx, key, strings.NewReader("x")); err == nil {
				t.Errorf("put %q accepted", key)
			}
			if _, _, err := s.Open(ctx, key); err == nil || services.ErrorCode(err) == services.NotFound {
				t.Errorf("open %q: %v, want refused", key, err)
			}
			if err := s.Delete(ctx, key); err == nil {
				t.Errorf("delete %q accepted", key)
			}
		}
	})
}
