package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

func newKey(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var testHeader = Header{Engine: "sqlite", Started: time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC), Consistency: "test"}

// files are what the tests put in an archive.
var files = []struct{ name, body string }{
	{"db/molar.db", strings.Repeat("database page ", 1000)},
	{"blobs/images/a/original", "\xff\xd8 a radiograph"},
	{"keys/rrn-keys", "k1:secret"},
}

// archive writes files into an archive encrypted to id.
func archive(t *testing.T, id *age.X25519Identity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, []age.Recipient{id.Recipient()}, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := w.Add(f.name, int64(len(f.body)), strings.NewReader(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(Manifest{Images: 1}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestArchiveRoundTrip(t *testing.T) {
	t.Parallel()
	id := newKey(t)
	got := map[string]string{}
	var header Header
	m, err := Read(bytes.NewReader(archive(t, id)), []age.Identity{id}, Visitor{
		Header: func(h Header) error { header = h; return nil },
		File: func(name string, size int64, r io.Reader) error {
			b, err := io.ReadAll(r)
			if int64(len(b)) != size {
				t.Errorf("%s: %d bytes read, %d said", name, len(b), size)
			}
			got[name] = string(b)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if header.Format != Format || header.Engine != "sqlite" || !header.Started.Equal(testHeader.Started) {
		t.Fatalf("header %+v", header)
	}
	if len(m.Files) != len(files) || m.Images != 1 {
		t.Fatalf("manifest %+v", m)
	}
	for i, f := range files {
		sum := sha256.Sum256([]byte(f.body))
		if got[f.name] != f.body || m.Files[i].Name != f.name || m.Files[i].SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("file %s: read %q, manifest %+v", f.name, got[f.name], m.Files[i])
		}
	}
}

// TestArchiveRefusesWhatCannotBeTrusted reads archives that are wrong in
// every way a reader can meet, each refused with the error that says so.
func TestArchiveRefusesWhatCannotBeTrusted(t *testing.T) {
	t.Parallel()
	id, other := newKey(t), newKey(t)
	good := archive(t, id)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x01
	for _, tc := range []struct {
		name string
		data []byte
		key  *age.X25519Identity
		want error
	}{
		{"another key", good, other, ErrWrongKey},
		{"one bit flipped", flipped, id, ErrDamaged},
		{"cut short", good[:len(good)-200], id, ErrDamaged},
		{"cut at a chunk", good[:len(good)/2], id, ErrDamaged},
		{"not age at all", []byte("molar backup, honest"), id, ErrNotBackup},
		{"an encrypted file that is not a backup", encrypt(t, id, []byte("hello")), id, ErrNotBackup},
		{"a manifest that lies about a hash", forged(t, id, func(m *Manifest) { m.Files[1].SHA256 = strings.Repeat("0", 64) }, nil), id, ErrDamaged},
		{"a manifest that lists a file more", forged(t, id, func(m *Manifest) { m.Files = append(m.Files, FileSum{Name: "blobs/x", Size: 1}) }, nil), id, ErrDamaged},
		{"a manifest with another header", forged(t, id, func(m *Manifest) { m.Engine = "mongodb" }, nil), id, ErrDamaged},
		{"no manifest", forged(t, id, nil, func(tw *tar.Writer) bool { return false }), id, ErrDamaged},
		{"a file after the manifest", forged(t, id, nil, func(tw *tar.Writer) bool { entry(t, tw, "blobs/late", []byte("x")); return true }), id, ErrDamaged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Read(bytes.NewReader(tc.data), []age.Identity{tc.key}, Visitor{File: func(_ string, _ int64, r io.Reader) error {
				_, err := io.Copy(io.Discard, r)
				return err
			}})
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func encrypt(t *testing.T, id *age.X25519Identity, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func entry(t *testing.T, tw *tar.Writer, name string, body []byte) {
	t.Helper()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
}

// forged builds, as someone holding the public key could, a well-encrypted
// archive of files whose manifest edit changes (nil: no manifest), then
// calls after with the tar (its result says whether the manifest went first).
func forged(t *testing.T, id *age.X25519Identity, edit func(*Manifest), after func(*tar.Writer) bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := age.Encrypt(&buf, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := zstd.NewWriter(enc)
	tw := tar.NewWriter(zw)
	h := testHeader
	h.Format = Format
	hb, _ := json.Marshal(h)
	entry(t, tw, headerName, hb)
	m := Manifest{Header: h}
	for _, f := range files {
		entry(t, tw, f.name, []byte(f.body))
		sum := sha256.Sum256([]byte(f.body))
		m.Files = append(m.Files, FileSum{Name: f.name, Size: int64(len(f.body)), SHA256: hex.EncodeToString(sum[:])})
	}
	if edit != nil {
		edit(&m)
		mb, _ := json.Marshal(m)
		entry(t, tw, manifestName, mb)
	}
	if after != nil {
		after(tw)
	}
	_ = tw.Close()
	_ = zw.Close()
	_ = enc.Close()
	return buf.Bytes()
}
