// Package backup writes and reads Molar's backups: one archive holding a
// consistent copy of the database and every image file its records refer
// to, encrypted to the clinic's age key, with a manifest of SHA-256 hashes.
// It also keeps the server's backup schedule and the record of each
// backup's outcome.
//
// An archive is age(zstd(tar)): a header entry first (molar-backup.json),
// then the files (db/ or mongo/ for the database, blobs/ for image files,
// keys/ for the key files of a dev data directory), then the manifest
// (MANIFEST.json) with every file's size and hash. So it can also be opened
// by hand: `age -d -i key.txt FILE | zstd -d | tar -x`.
package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// Format names this layout of an archive.
const Format = "molar-backup/1"

// The entries every archive has around its files.
const (
	headerName   = "molar-backup.json"
	manifestName = "MANIFEST.json"
)

// Header says what an archive holds; it is the first entry, so a restore
// can refuse an archive of the wrong engine before writing anything.
type Header struct {
	Format string `json:"format"`
	// Engine is the database engine copied: "sqlite" or "mongodb".
	Engine string `json:"engine"`
	// Started is when the backup started: the database was copied as of a
	// point at or after it.
	Started time.Time `json:"started"`
	// Consistency says how that point was taken.
	Consistency string `json:"consistency"`
}

// FileSum is one file of an archive as the manifest lists it.
type FileSum struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest is the last entry of an archive: the header again, every file
// in order with its size and hash, and what the backup found wrong.
type Manifest struct {
	Header
	Files []FileSum `json:"files"`
	// Images is how many image records the database copy holds.
	Images int `json:"images"`
	// Missing lists the image files the records refer to that were not
	// found; Mismatched those whose bytes do not match their record (they
	// are in the archive as found). A backup with either still holds
	// everything else, and is reported as failed.
	Missing    []string `json:"missing,omitempty"`
	Mismatched []string `json:"mismatched,omitempty"`
}

// Size sums the sizes of the files.
func (m Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// The ways reading an archive fails that its user can act on.
var (
	// ErrWrongKey: none of the identities given opens the archive.
	ErrWrongKey = errors.New("the key does not open this backup (wrong identity file?)")
	// ErrDamaged: the archive was changed or cut short after it was
	// written, or its manifest does not match its files.
	ErrDamaged = errors.New("the backup is damaged or was altered")
	// ErrNotBackup: the file is not a Molar backup.
	ErrNotBackup = errors.New("the file is not a Molar backup")
)

// Writer writes an archive. Add the files, then Close.
type Writer struct {
	enc    io.WriteCloser
	zw     *zstd.Encoder
	tw     *tar.Writer
	header Header
	files  []FileSum
}

// NewWriter starts an archive of h on dst, encrypted to recipients.
func NewWriter(dst io.Writer, recipients []age.Recipient, h Header) (*Writer, error) {
	if len(recipients) == 0 {
		return nil, errors.New("backup: no recipient to encrypt to")
	}
	enc, err := age.Encrypt(dst, recipients...)
	if err != nil {
		return nil, fmt.Errorf("backup: encrypt: %w", err)
	}
	// Images are compressed already and dominate the size; the fastest
	// level still halves a database.
	zw, err := zstd.NewWriter(enc, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return nil, err
	}
	h.Format, h.Started = Format, h.Started.UTC().Round(0)
	w := &Writer{enc: enc, zw: zw, tw: tar.NewWriter(zw), header: h}
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := w.entry(headerName, int64(len(b)), bytes.NewReader(b)); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) entry(name string, size int64, r io.Reader) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: w.header.Started, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	}
	if _, err := io.CopyN(w.tw, r, size); err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	}
	return nil
}

// Add writes the size bytes r yields as the file name and returns their
// hash. A reader that ends early is an error.
func (w *Writer) Add(name string, size int64, r io.Reader) (FileSum, error) {
	if name == headerName || name == manifestName {
		return FileSum{}, fmt.Errorf("backup: %s is a reserved name", name)
	}
	h := sha256.New()
	if err := w.entry(name, size, io.TeeReader(r, h)); err != nil {
		return FileSum{}, err
	}
	f := FileSum{Name: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	w.files = append(w.files, f)
	return f, nil
}

// Close writes the manifest (m's own files are ignored: the Writer's are
// used) and ends the archive; it does not close dst. The archive is whole
// only once Close returns nil.
func (w *Writer) Close(m Manifest) (Manifest, error) {
	m.Header, m.Files = w.header, w.files
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	if err := w.entry(manifestName, int64(len(b)), bytes.NewReader(b)); err != nil {
		return m, err
	}
	if err := w.tw.Close(); err != nil {
		return m, err
	}
	if err := w.zw.Close(); err != nil {
		return m, err
	}
	return m, w.enc.Close()
}

// Visitor is what Read calls as it reads an archive.
type Visitor struct {
	// Header, if set, is called with the header before any file.
	Header func(Header) error
	// File, if set, is called with each file's name, size and bytes (it may
	// leave them unread: the rest is read for the hash). Whatever it did
	// stands only if Read then returns nil: the manifest is checked last.
	File func(name string, size int64, r io.Reader) error
}

// Read decrypts src with identities and reads the archive to its end,
// checking every file against its hash, the manifest against the files
// (same names, order, sizes and hashes) and that nothing follows it. It
// returns the manifest; ErrWrongKey, ErrDamaged or ErrNotBackup (wrapped)
// for an archive that cannot be trusted.
func Read(src io.Reader, identities []age.Identity, v Visitor) (Manifest, error) {
	dec, err := age.Decrypt(src, identities...)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return Manifest{}, ErrWrongKey
		}
		return Manifest{}, fmt.Errorf("%w: %v", ErrNotBackup, err)
	}
	zr, err := zstd.NewReader(dec, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return Manifest{}, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	damaged := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrDamaged, fmt.Sprintf(format, args...))
	}

	var h Header
	hdr, err := tr.Next()
	if errors.Is(err, zstd.ErrMagicMismatch) {
		return Manifest{}, fmt.Errorf("%w: it does not decompress", ErrNotBackup)
	}
	if err != nil {
		return Manifest{}, damaged("no header: %v", err)
	}
	if hdr.Name != headerName {
		return Manifest{}, fmt.Errorf("%w: it starts with %q", ErrNotBackup, hdr.Name)
	}
	if err := decodeJSON(tr, hdr.Size, &h); err != nil || h.Format != Format {
		return Manifest{}, fmt.Errorf("%w: header %q (%v)", ErrNotBackup, h.Format, err)
	}
	if v.Header != nil {
		if err := v.Header(h); err != nil {
			return Manifest{}, err
		}
	}
	var seen []FileSum
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return Manifest{}, damaged("it ends without its manifest")
		}
		if err != nil {
			return Manifest{}, damaged("%v", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return Manifest{}, damaged("entry %q is not a file", hdr.Name)
		}
		if hdr.Name == manifestName {
			var m Manifest
			if err := decodeJSON(tr, hdr.Size, &m); err != nil {
				return Manifest{}, damaged("manifest: %v", err)
			}
			if _, err := tr.Next(); err != io.EOF {
				return Manifest{}, damaged("something follows the manifest")
			}
			if !sameHeader(m.Header, h) {
				return Manifest{}, damaged("the manifest's header differs from the archive's")
			}
			if !slices.Equal(m.Files, seen) {
				return Manifest{}, damaged("%s", diffFiles(m.Files, seen))
			}
			return m, nil
		}
		sum := sha256.New()
		body := damageReader{io.TeeReader(tr, sum)}
		if v.File != nil {
			if err := v.File(hdr.Name, hdr.Size, body); err != nil {
				return Manifest{}, err
			}
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return Manifest{}, damaged("%s: %v", hdr.Name, err)
		}
		seen = append(seen, FileSum{Name: hdr.Name, Size: hdr.Size, SHA256: hex.EncodeToString(sum.Sum(nil))})
	}
}

func sameHeader(a, b Header) bool {
	return a.Format == b.Format && a.Engine == b.Engine && a.Started.Equal(b.Started) && a.Consistency == b.Consistency
}

// damageReader marks the errors of reading an archive's file (a chunk
// that fails to decrypt and authenticate, a stream cut short) as damage,
// whoever reads it.
type damageReader struct{ r io.Reader }

func (d damageReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return n, err
}

// diffFiles says how the manifest's list differs from the files read.
func diffFiles(listed, read []FileSum) string {
	for i := range min(len(listed), len(read)) {
		if listed[i] != read[i] {
			return fmt.Sprintf("file %s: the manifest says %d bytes, sha256 %s; the archive holds %d bytes, sha256 %s",
				read[i].Name, listed[i].Size, listed[i].SHA256, read[i].Size, read[i].SHA256)
		}
	}
	return fmt.Sprintf("the manifest lists %d files; the archive holds %d", len(listed), len(read))
}

// decodeJSON reads a small JSON entry.
func decodeJSON(r io.Reader, size int64, v any) error {
	if size > 256<<20 {
		return fmt.Errorf("%d bytes is too large", size)
	}
	b, err := io.ReadAll(io.LimitReader(r, size))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
