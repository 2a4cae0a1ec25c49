package images

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Transfer syntaxes whose data set is laid out differently from explicit VR
// little endian.
const (
	implicitLittle = "1.2.840.10008.1.2"
	explicitBig    = "1.2.840.10008.1.2.2"
	deflated       = "1.2.840.10008.1.2.1.99"
)

// undefinedLength marks a sequence or item that ends with a delimiter.
const undefinedLength = 0xFFFFFFFF

// dicomReader walks the elements of a DICOM file (PS3.5 §7) far enough to
// find the image's Rows and Columns; values it does not need are skipped
// unread.
type dicomReader struct {
	r        *bufio.Reader
	order    binary.ByteOrder
	explicit bool
}

type element struct {
	group, elem uint16
	vr          string
	length      uint32
}

// dicomSize reads a DICOM Part 10 file's transfer syntax and the Rows and
// Columns of its image.
func dicomSize(r io.Reader) (width, height int, syntax string, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if _, err := br.Discard(132); err != nil {
		return 0, 0, "", err
	}
	d := &dicomReader{r: br, order: binary.LittleEndian, explicit: true}
	// The file meta group is always explicit VR little endian.
	for {
		b, err := br.Peek(2)
		if err != nil {
			return 0, 0, "", err
		}
		if binary.LittleEndian.Uint16(b) != 0x0002 {
			break
		}
		e, err := d.next()
		if err != nil {
			return 0, 0, "", err
		}
		if e.elem == 0x0010 {
			v, err := d.value(e)
			if err != nil {
				return 0, 0, "", err
			}
			syntax = strings.TrimRight(string(v), "\x00 ")
		} else if err := d.skip(e); err != nil {
			return 0, 0, "", err
		}
	}
	switch syntax {
	case implicitLittle:
		d.explicit = false
	case explicitBig:
		d.order = binary.BigEndian
	case deflated:
		return 0, 0, syntax, errors.New("a deflated data set is not supported")
	}
	var rows, cols uint16
	for rows == 0 || cols == 0 {
		e, err := d.next()
		if err != nil {
			return 0, 0, syntax, fmt.Errorf("no image size before the end: %w", err)
		}
		if e.group > 0x0028 {
			return 0, 0, syntax, errors.New("no Rows and Columns before the pixel data")
		}
		if e.group == 0x0028 && (e.elem == 0x0010 || e.elem == 0x0011) {
			v, err := d.value(e)
			if err != nil || len(v) < 2 {
				return 0, 0, syntax, fmt.Errorf("bad Rows or Columns: %v", err)
			}
			if e.elem == 0x0010 {
				rows = d.order.Uint16(v)
			} else {
				cols = d.order.Uint16(v)
			}
			continue
		}
		if err := d.skip(e); err != nil {
			return 0, 0, syntax, err
		}
	}
	return int(cols), int(rows), syntax, nil
}

// longVR are the explicit VRs with a reserved field and a 32-bit length.
var longVR = map[string]bool{"OB": true, "OD": true, "OF": true, "OL": true, "OV": true, "OW": true, "SQ": true, "SV": true, "UC": true, "UN": true, "UR": true, "UT": true, "UV": true}

// next reads one element's header.
func (d *dicomReader) next() (element, error) {
	var h [8]byte
	if _, err := io.ReadFull(d.r, h[:4]); err != nil {
		return element{}, err
	}
	e := element{group: d.order.Uint16(h[0:2]), elem: d.order.Uint16(h[2:4])}
	// Items and delimiters carry no VR in any transfer syntax.
	if !d.explicit || e.group == 0xFFFE {
		if _, err := io.ReadFull(d.r, h[4:8]); err != nil {
			return element{}, err
		}
		e.length = d.order.Uint32(h[4:8])
		return e, nil
	}
	if _, err := io.ReadFull(d.r, h[4:8]); err != nil {
		return element{}, err
	}
	e.vr = string(h[4:6])
	if longVR[e.vr] {
		var l [4]byte
		if _, err := io.ReadFull(d.r, l[:]); err != nil {
			return element{}, err
		}
		e.length = d.order.Uint32(l[:])
	} else {
		e.length = uint32(d.order.Uint16(h[6:8]))
	}
	return e, nil
}

// value reads a short value (at most 1 KiB: the ones needed here are tiny).
func (d *dicomReader) value(e element) ([]byte, error) {
	if e.length == undefinedLength || e.length > 1024 {
		return nil, fmt.Errorf("unexpected length %d", e.length)
	}
	v := make([]byte, e.length)
	_, err := io.ReadFull(d.r, v)
	return v, err
}

// skip passes over an element's value, and over a sequence (or encapsulated
// pixel data) of undefined length item by item up to its delimiter.
func (d *dicomReader) skip(e element) error {
	if e.length != undefinedLength {
		_, err := d.r.Discard(int(e.length))
		return err
	}
	for depth := 0; ; {
		it, err := d.next()
		if err != nil {
			return err
		}
		switch {
		case it.group == 0xFFFE && it.elem == 0xE0DD: // sequence delimiter
			if depth == 0 {
				return nil
			}
			depth--
		case it.group == 0xFFFE && it.elem == 0xE00D: // item delimiter
		case it.group == 0xFFFE && it.elem == 0xE000 && it.length == undefinedLength:
			// An item of undefined length: its elements follow, read in turn.
		case it.length == undefinedLength:
			// A nested sequence of undefined length.
			depth++
		default:
			if _, err := d.r.Discard(int(it.length)); err != nil {
				return err
			}
		}
	}
}
