package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/molar-dental/molar/services"
)

// Key is one signing key; its ID goes in the token's "kid" header.
type Key struct {
	ID      string
	private ed25519.PrivateKey
	public  ed25519.PublicKey
}

// KeySet signs with its first key and verifies with any of them, so a new key
// can be put first while tokens signed with the previous one stay valid until
// they expire; then the previous key is dropped.
type KeySet struct {
	keys []Key
}

// ParseKeySet reads "kid:seed,kid:seed": each seed is 32 random bytes in
// unpadded base64url (`molar keygen` makes one). The first key signs.
func ParseKeySet(spec string) (*KeySet, error) {
	ks := &KeySet{}
	for _, item := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == '\n' }) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, seed64, ok := strings.Cut(item, ":")
		if !ok || id == "" || len(id) > 32 {
			return nil, errors.New("each key must be kid:seed with a kid of 1 to 32 characters")
		}
		seed, err := base64.RawURLEncoding.DecodeString(seed64)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("key %q: the seed must be 32 bytes in unpadded base64url", id)
		}
		if weak(seed) {
			return nil, fmt.Errorf("key %q: the seed is not random", id)
		}
		for _, k := range ks.keys {
			if k.ID == id {
				return nil, fmt.Errorf("key %q appears twice", id)
			}
		}
		priv := ed25519.NewKeyFromSeed(seed)
		ks.keys = append(ks.keys, Key{ID: id, private: priv, public: priv.Public().(ed25519.PublicKey)})
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("no keys")
	}
	return ks, nil
}

// weak catches placeholder seeds: few distinct bytes.
func weak(seed []byte) bool {
	distinct := map[byte]bool{}
	for _, b := range seed {
		distinct[b] = true
	}
	return len(distinct) < 16
}

// NewKeySpec returns a fresh "kid:seed" for a KeySet.
func NewKeySpec(id string) string {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		panic(err)
	}
	return id + ":" + base64.RawURLEncoding.EncodeToString(seed)
}

// LoadOrCreateKeySet reads the key file at path, creating it with one fresh
// key if it does not exist. For development: production keys come from
// configuration.
func LoadOrCreateKeySet(path string) (*KeySet, error) {
	spec, err := services.LoadOrCreateSecretFile(path, func() string { return NewKeySpec("dev1") })
	if err != nil {
		return nil, err
	}
	return ParseKeySet(spec)
}

func (ks *KeySet) signing() Key { return ks.keys[0] }

func (ks *KeySet) find(id string) (Key, bool) {
	for _, k := range ks.keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}
