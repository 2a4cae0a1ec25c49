package images

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Transfer syntaxes whose data set is laid out differently from explicit VR
// little endian.
const (
	implicitLittle = "1.2.840.10008.1.2"
	explicitLittle = "1.2.840.10008.1.2.1"
	explicitBig    = "1.2.840.10008.1.2.2"
	deflated       = "1.2.840.10008.1.2.1.99"
)

// undefinedLength marks a sequence or item that ends with a delimiter, and
// encapsulated (compressed) pixel data.
const undefinedLength = 0xFFFFFFFF

// dicomReader walks the elements of a DICOM file (PS3.5 §7) far enough to
// find what describes its image and where the pixel data starts; values it
// does not need are skipped unread.
type dicomReader struct {
	r        *bufio.Reader
	read     *countingReader
	order    binary.ByteOrder
	explicit bool
}

// countingReader counts the bytes read through it, so the offset of the
// pixel data is known despite the buffering.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type element struct {
	group, elem uint16
	vr          string
	length      uint32
}

// dicomHeader is what a DICOM file's data set says about its image (the
// Image Pixel module, PS3.3 C.7.6.3, with the modality and VOI LUT
// attributes) and where its pixel data lies.
type dicomHeader struct {
	syntax           string
	rows, cols       int
	samples          int
	photometric      string
	bitsAllocated    int
	bitsStored       int
	signed           bool
	slope, intercept float64
	center, width    float64
	windowed         bool
	pixelVR          string
	pixelOffset      int64
	pixelLength      uint32
	pixelDataReached bool
	order            binary.ByteOrder
}

// dicomSize reads a DICOM Part 10 file's transfer syntax and the Rows and
// Columns of its image.
func dicomSize(r io.Reader) (width, height int, syntax string, err error) {
	h, err := readDICOM(r)
	return h.cols, h.rows, h.syntax, err
}

// readDICOM reads a DICOM Part 10 file's meta group and data set up to the
// header of its pixel data (or the end of the file). Only the top level is
// read: the images nested in sequences (icons) are skipped.
func readDICOM(r io.Reader) (dicomHeader, error) {
	h := dicomHeader{samples: 1, slope: 1, order: binary.LittleEndian}
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	if _, err := br.Discard(132); err != nil {
		return h, err
	}
	d := &dicomReader{r: br, read: cr, order: binary.LittleEndian, explicit: true}
	// The file meta group is always explicit VR little endian.
	for {
		b, err := br.Peek(2)
		if err != nil {
			return h, err
		}
		if binary.LittleEndian.Uint16(b) != 0x0002 {
			break
		}
		e, err := d.next()
		if err != nil {
			return h, err
		}
		if e.elem == 0x0010 {
			v, err := d.value(e)
			if err != nil {
				return h, err
			}
			h.syntax = strings.TrimRight(string(v), "\x00 ")
		} else if err := d.skip(e); err != nil {
			return h, err
		}
	}
	switch h.syntax {
	case implicitLittle:
		d.explicit = false
	case explicitBig:
		d.order = binary.BigEndian
	case deflated:
		return h, errors.New("a deflated data set is not supported")
	}
	h.order = d.order
	for {
		e, err := d.next()
		if errors.Is(err, io.EOF) {
			// The end, between two elements: a data set without pixel data.
			return h, nil
		}
		if err != nil {
			return h, fmt.Errorf("the data set ends in an element: %w", err)
		}
		switch {
		case e.group == 0x7FE0 && e.elem == 0x0010:
			h.pixelDataReached = true
			h.pixelVR, h.pixelLength = e.vr, e.length
			h.pixelOffset = d.read.n - int64(br.Buffered())
			return h, nil
		case e.group == 0x0028 && h.wants(e.elem):
			v, err := d.value(e)
			if err != nil {
				return h, fmt.Errorf("bad (0028,%04X): %w", e.elem, err)
			}
			if err := h.set(e.elem, v); err != nil {
				return h, fmt.Errorf("bad (0028,%04X): %w", e.elem, err)
			}
		default:
			if err := d.skip(e); err != nil {
				return h, err
			}
		}
	}
}

// wants tells whether the element (0028,elem) describes the image.
func (h *dicomHeader) wants(elem uint16) bool {
	switch elem {
	case 0x0002, 0x0004, 0x0010, 0x0011, 0x0100, 0x0101, 0x0103, 0x1050, 0x1051, 0x1052, 0x1053:
		return true
	}
	return false
}

// set records the value v of the element (0028,elem).
func (h *dicomHeader) set(elem uint16, v []byte) error {
	us := func() (int, error) {
		if len(v) < 2 {
			return 0, fmt.Errorf("%d bytes for an unsigned short", len(v))
		}
		return int(h.order.Uint16(v)), nil
	}
	var err error
	switch elem {
	case 0x0002:
		h.samples, err = us()
	case 0x0004:
		h.photometric = strings.TrimRight(string(v), "\x00 ")
	case 0x0010:
		h.rows, err = us()
	case 0x0011:
		h.cols, err = us()
	case 0x0100:
		h.bitsAllocated, err = us()
	case 0x0101:
		h.bitsStored, err = us()
	case 0x0103:
		var rep int
		rep, err = us()
		h.signed = rep == 1
	case 0x1050:
		h.center, err = decimal(v)
		h.windowed = err == nil
	case 0x1051:
		h.width, err = decimal(v)
	case 0x1052:
		h.intercept, err = decimal(v)
	case 0x1053:
		h.slope, err = decimal(v)
	}
	return err
}

// decimal reads the first value of a Decimal String (DS), which may hold
// several separated by backslashes.
func decimal(v []byte) (float64, error) {
	first, _, _ := strings.Cut(string(v), `\`)
	return strconv.ParseFloat(strings.Trim(first, "\x00 "), 64)
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
	if _, err := io.ReadFull(d.r, h[4:8]); err != nil {
		return element{}, noEOF(err)
	}
	// Items and delimiters carry no VR in any transfer syntax.
	if !d.explicit || e.group == 0xFFFE {
		e.length = d.order.Uint32(h[4:8])
		return e, nil
	}
	e.vr = string(h[4:6])
	if longVR[e.vr] {
		var l [4]byte
		if _, err := io.ReadFull(d.r, l[:]); err != nil {
			return element{}, noEOF(err)
		}
		e.length = d.order.Uint32(l[:])
	} else {
		e.length = uint32(d.order.Uint16(h[6:8]))
	}
	return e, nil
}

// noEOF turns the end of the file inside an element into an unexpected one.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// value reads a short value (at most 1 KiB: the ones needed here are tiny).
func (d *dicomReader) value(e element) ([]byte, error) {
	if e.length == undefinedLength || e.length > 1024 {
		return nil, fmt.Errorf("unexpected length %d", e.length)
	}
	v := make([]byte, e.length)
	_, err := io.ReadFull(d.r, v)
	return v, noEOF(err)
}

// skip passes over an element's value, and over a sequence (or encapsulated
// pixel data) of undefined length item by item up to its delimiter.
func (d *dicomReader) skip(e element) error {
	if e.length != undefinedLength {
		return d.discard(e.length)
	}
	for depth := 0; ; {
		it, err := d.next()
		if err != nil {
			return noEOF(err)
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
			if err := d.discard(it.length); err != nil {
				return err
			}
		}
	}
}

// discard passes over n bytes, all of which must be there.
func (d *dicomReader) discard(n uint32) error {
	_, err := d.r.Discard(int(n))
	return noEOF(err)
}
