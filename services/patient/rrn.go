package patient

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/molar-dental/molar/services"
)

// Sealer encrypts resident registration numbers at rest with AES-256-GCM.
// It holds several keys by id: it seals with the first and opens with the
// one named by the stored key id, so keys can rotate.
type Sealer struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// ParseSealer reads "kid:key,kid:key", each key 32 bytes in unpadded
// base64url. The first key seals.
func ParseSealer(spec string) (*Sealer, error) {
	s := &Sealer{aeads: map[string]cipher.AEAD{}}
	for _, item := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == '\n' }) {
		id, k64, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok || id == "" {
			return nil, errors.New("each key must be kid:key")
		}
		key, err := base64.RawURLEncoding.DecodeString(k64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("key %q must be 32 bytes in unpadded base64url", id)
		}
		if _, dup := s.aeads[id]; dup {
			return nil, fmt.Errorf("key %q appears twice", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.ids = append(s.ids, id)
		s.aeads[id] = aead
	}
	if len(s.ids) == 0 {
		return nil, errors.New("no keys")
	}
	return s, nil
}

// NewSealerSpec returns a fresh "kid:key".
func NewSealerSpec(id string) string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	return id + ":" + base64.RawURLEncoding.EncodeToString(key)
}

// LoadOrCreateSealer reads the key file at path, creating it if missing.
// For development: production keys come from configuration.
func LoadOrCreateSealer(path string) (*Sealer, error) {
	spec, err := services.LoadOrCreateSecretFile(path, func() string { return NewSealerSpec("dev1") })
	if err != nil {
		return nil, err
	}
	return ParseSealer(spec)
}

// Seal encrypts plain, binding it to the patient id (so a ciphertext cannot
// be moved to another record), and returns the key id and nonce+ciphertext.
func (s *Sealer) Seal(patientID, plain string) (string, []byte, error) {
	id := s.ids[0]
	aead := s.aeads[id]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, err
	}
	return id, aead.Seal(nonce, nonce, []byte(plain), []byte(patientID)), nil
}

// Open decrypts what Seal produced.
func (s *Sealer) Open(patientID, keyID string, sealed []byte) (string, error) {
	aead, ok := s.aeads[keyID]
	if !ok {
		return "", fmt.Errorf("registration number sealed with unknown key %q", keyID)
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed registration number too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(patientID))
	if err != nil {
		return "", errors.New("registration number does not decrypt")
	}
	return string(plain), nil
}

// normalizeRRN returns 900101-1234567 from 13 digits with or without the hyphen.
func normalizeRRN(s string) string {
	d := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	if len(d) != 13 {
		return s
	}
	return d[:6] + "-" + d[6:]
}

// MaskRRN shows the birth date and the sex digit only: 900101-1******.
func MaskRRN(rrn string) string {
	rrn = normalizeRRN(rrn)
	if len(rrn) != 14 {
		return ""
	}
	return rrn[:8] + "******"
}
