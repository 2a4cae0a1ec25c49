package images

import (
	"strings"
	"testing"
	"time"

	"github.com/molar-dental/molar/services"
)

func TestSignedLinks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := NewURLSigner([]byte("0123456789abcdef0123456789abcdef"), clock)
	tok := s.Sign("img-1", "preview", "staff-7", 5*time.Minute)
	if err := s.Verify(tok, "img-1", "preview", "staff-7"); err != nil {
		t.Fatalf("a fresh link: %v", err)
	}
	exp, sig, _ := strings.Cut(tok, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	for name, tc := range map[string]struct{ token, image, rendition, user string }{
		"another image":        {tok, "img-2", "preview", "staff-7"},
		"another rendition":    {tok, "img-1", "original", "staff-7"},
		"another user":         {tok, "img-1", "preview", "staff-8"},
		"a later expiry":       {"9999999999." + sig, "img-1", "preview", "staff-7"},
		"a changed signature":  {exp + "." + flip(sig), "img-1", "preview", "staff-7"},
		"no signature":         {exp, "img-1", "preview", "staff-7"},
		"garbage":              {"x.y", "img-1", "preview", "staff-7"},
		"parts moved around":   {s.Sign("img-1p", "review", "staff-7", time.Minute), "img-1", "preview", "staff-7"},
		"another server's key": {NewURLSigner([]byte("another key of thirty-two bytes!"), clock).Sign("img-1", "preview", "staff-7", time.Minute), "img-1", "preview", "staff-7"},
	} {
		if err := s.Verify(tc.token, tc.image, tc.rendition, tc.user); services.ErrorCode(err) != services.PermissionDenied {
			t.Errorf("%s: %v, want permission denied", name, err)
		}
	}
	now = now.Add(5*time.Minute - time.Second)
	if err := s.Verify(tok, "img-1", "preview", "staff-7"); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	now = now.Add(time.Second)
	if err := s.Verify(tok, "img-1", "preview", "staff-7"); services.ErrorCode(err) != services.PermissionDenied {
		t.Errorf("at expiry: %v", err)
	}
}
