package images

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/molar-dental/molar/services"
)

// URLSigner makes and checks the short-lived tokens with which a browser
// fetches an image's bytes: each is bound to one image (and one of its
// renditions), one user and an expiry, and signed with HMAC-SHA-256.
type URLSigner struct {
	key []byte
	now func() time.Time
}

// NewURLSigner signs with key (at least 32 random bytes, kept secret by the
// server) and reads time from now.
func NewURLSigner(key []byte, now func() time.Time) *URLSigner {
	return &URLSigner{key: key, now: now}
}

func (s *URLSigner) mac(image, rendition, user string, expires int64) []byte {
	m := hmac.New(sha256.New, s.key)
	// Lengths first, so no two different triples sign the same bytes.
	for _, part := range []string{image, rendition, user} {
		m.Write(strconv.AppendInt(nil, int64(len(part)), 10))
		m.Write([]byte{':'})
		m.Write([]byte(part))
	}
	m.Write(strconv.AppendInt(nil, expires, 10))
	return m.Sum(nil)
}

// Sign returns a token letting user fetch the rendition ("original",
// "preview", "grid") of image for ttl.
func (s *URLSigner) Sign(image, rendition, user string, ttl time.Duration) string {
	exp := s.now().Add(ttl).Unix()
	return strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(s.mac(image, rendition, user, exp))
}

// Verify accepts token only for the same image, rendition and user, before
// it expires; anything else is PermissionDenied, with no hint of which part
// failed.
func (s *URLSigner) Verify(token, image, rendition, user string) error {
	deny := services.Errorf(services.PermissionDenied, "the link has expired or is not yours")
	expText, sig, ok := strings.Cut(token, ".")
	if !ok {
		return deny
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil {
		return deny
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(image, rendition, user, exp)) {
		return deny
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return deny
	}
	return nil
}
