package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// TestEveryMethodDeclaresAccess walks every method of every molar service in
// the compiled schema: access is denied by default, so a method without a
// rule would be unusable, and one is a mistake.
func TestEveryMethodDeclaresAccess(t *testing.T) {
	rules := SchemaRules()
	methods := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("molar.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				methods++
				if _, ok := rules[Procedure(sd.Methods().Get(j))]; !ok {
					t.Errorf("%s declares no (molar.v1.access) rule", Procedure(sd.Methods().Get(j)))
				}
			}
		}
		return true
	})
	if methods < 10 {
		t.Fatalf("found only %d methods; is the schema linked in?", methods)
	}
}

func TestGrants(t *testing.T) {
	if got := PermissionsOf([]molarv1.Role{molarv1.Role_ROLE_ADMIN}); len(got) != len(molarv1.Permission_name)-1 {
		t.Errorf("admin has %d permissions, want all %d", len(got), len(molarv1.Permission_name)-1)
	}
	desk := PermissionsOf([]molarv1.Role{molarv1.Role_ROLE_FRONT_DESK})
	for _, p := range desk {
		if p == molarv1.Permission_PERMISSION_STAFF_MANAGE || p == molarv1.Permission_PERMISSION_CHART_WRITE {
			t.Errorf("front desk holds %s", PermissionName(p))
		}
	}
	for _, p := range PermissionsOf([]molarv1.Role{molarv1.Role_ROLE_HYGIENIST}) {
		if p == molarv1.Permission_PERMISSION_BILLING_WRITE {
			t.Error("a hygienist may take payments")
		}
	}
	if PermissionName(molarv1.Permission_PERMISSION_PATIENTS_READ) != "patients.read" {
		t.Errorf("name %q", PermissionName(molarv1.Permission_PERMISSION_PATIENTS_READ))
	}
}

func TestPasswordHash(t *testing.T) {
	p := HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	h, err := HashPassword("correct horse battery", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := VerifyPassword("correct horse battery", h); !ok || err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if ok, _ := VerifyPassword("correct horse batterY", h); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse battery", p)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
}

func testKeys(t *testing.T, spec string) *KeySet {
	t.Helper()
	ks, err := ParseKeySet(spec)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestKeySetRefusesWeakKeys(t *testing.T) {
	zero := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for name, spec := range map[string]string{
		"empty":      "",
		"no kid":     ":" + zero,
		"short":      "k1:" + base64.RawURLEncoding.EncodeToString([]byte("short")),
		"not random": "k1:" + zero,
		"duplicate":  NewKeySpec("k1") + "," + NewKeySpec("k1"),
	} {
		if _, err := ParseKeySet(spec); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	old := NewKeySpec("old")
	tokOld := NewTokens(testKeys(t, old), 15*time.Minute, clock)
	acct := Account{ID: "u1", Email: "a@b.c", Roles: []molarv1.Role{molarv1.Role_ROLE_DENTIST}}
	signedOld, _, err := tokOld.Issue(acct, "s1")
	if err != nil {
		t.Fatal(err)
	}

	// Rotation: a new key signs, the old one still verifies until dropped.
	rotated := NewTokens(testKeys(t, NewKeySpec("new")+","+old), 15*time.Minute, clock)
	if c, err := rotated.Verify(signedOld); err != nil || c.SessionID != "s1" || c.roles()[0] != molarv1.Role_ROLE_DENTIST {
		t.Fatalf("token of the previous key refused after rotation: %v", err)
	}
	signedNew, _, _ := rotated.Issue(acct, "s2")
	if hdr := strings.Split(signedNew, ".")[0]; !strings.Contains(decode(t, hdr), `"kid":"new"`) {
		t.Fatalf("new tokens are not signed with the new key: %s", decode(t, hdr))
	}

	other := NewTokens(testKeys(t, NewKeySpec("old")), 15*time.Minute, clock) // same kid, other key
	forged, _, _ := other.Issue(acct, "s1")

	parts := strings.Split(signedOld, ".")
	tamperedClaims := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(decode(t, parts[1]), `"u1"`, `"u2"`, 1))) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"old"}`)) + "." + parts[1] + "."
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": issuer, "aud": audience, "sub": "u1", "sid": "s1", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})
	hs.Header["kid"] = "old"
	_, pub, _ := ed25519.GenerateKey(rand.Reader)
	hsSigned, _ := hs.SignedString([]byte(pub)) // HMAC keyed with public bytes: the classic confusion attack
	wrongAud := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": issuer, "aud": "other", "sub": "u1", "sid": "s1", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()})
	wrongAud.Header["kid"] = "old"
	wrongAudSigned, _ := wrongAud.SignedString(tokOld.keys.signing().private)

	later := NewTokens(testKeys(t, old), 15*time.Minute, func() time.Time { return now.Add(16 * time.Minute) })
	if _, err := later.Verify(signedOld); err == nil {
		t.Error("expired token accepted")
	}
	for name, tok := range map[string]string{
		"tampered":       tamperedClaims,
		"alg none":       none,
		"HS256 with kid": hsSigned,
		"wrong key":      forged,
		"wrong audience": wrongAudSigned,
		"garbage":        "not.a.token",
		"empty":          "",
	} {
		if _, err := tokOld.Verify(tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := tokOld.Verify(signedOld); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
}

func decode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIPLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newIPLimiter(60, 3, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.allow("1.2.3.4"); !ok {
			t.Fatalf("attempt %d refused within burst", i)
		}
	}
	ok, wait := l.allow("1.2.3.4")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th attempt: ok=%v wait=%v, want refused with a wait up to 1s", ok, wait)
	}
	if ok, _ := l.allow("5.6.7.8"); !ok {
		t.Fatal("another address was limited")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("1.2.3.4"); !ok {
		t.Fatal("not allowed again after the wait")
	}
}

// TestVerifiedTokensStillExpire: a token remembered as verified is refused
// once it expires.
func TestVerifiedTokensStillExpire(t *testing.T) {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	tok := NewTokens(testKeys(t, NewKeySpec("k")), 15*time.Minute, func() time.Time { return now })
	s, _, _ := tok.Issue(Account{ID: "u1"}, "s1")
	if _, err := tok.Verify(s); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Verify(s); err != nil {
		t.Fatal("second verification (remembered) failed")
	}
	now = now.Add(16 * time.Minute)
	if _, err := tok.Verify(s); err == nil {
		t.Fatal("a remembered token was accepted after it expired")
	}
}
