package auth

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

const (
	issuer   = "molar"
	audience = "molar-api"
)

// accessClaims are the claims of an access token.
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID          string   `json:"sid"`
	Email              string   `json:"email"`
	Name               string   `json:"name,omitempty"`
	Roles              []string `json:"roles"`
	MustChangePassword bool     `json:"mcp,omitempty"`
}

// Tokens issues and verifies access tokens: EdDSA-signed JWTs with a kid,
// issuer and audience, checked strictly on the way in.
type Tokens struct {
	keys *KeySet
	ttl  time.Duration
	now  func() time.Time

	// verified remembers tokens whose signature was checked, until they
	// expire: a signature check costs tens of microseconds, and a browser
	// sends the same token with every call for fifteen minutes.
	mu       sync.Mutex
	verified map[string]*accessClaims
}

// NewTokens returns Tokens signing with keys, valid for ttl.
func NewTokens(keys *KeySet, ttl time.Duration, now func() time.Time) *Tokens {
	return &Tokens{keys: keys, ttl: ttl, now: now, verified: map[string]*accessClaims{}}
}

// Issue signs an access token for a session of acct.
func (t *Tokens) Issue(acct Account, sessionID string) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	roles := make([]string, len(acct.Roles))
	for i, r := range acct.Roles {
		roles[i] = RoleName(r)
	}
	c := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   acct.ID,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		SessionID:          sessionID,
		Email:              acct.Email,
		Name:               acct.DisplayName,
		Roles:              roles,
		MustChangePassword: acct.MustChangePassword,
	}
	key := t.keys.signing()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = key.ID
	s, err := tok.SignedString(key.private)
	return s, exp, err
}

// errBadToken is every reason a token is refused; the reason is not told.
var errBadToken = errors.New("invalid or expired access token")

// Verify checks a token's signature (by its kid), algorithm, issuer,
// audience and lifetime, and returns the session it stands for.
func (t *Tokens) Verify(s string) (*accessClaims, error) {
	t.mu.Lock()
	c, ok := t.verified[s]
	t.mu.Unlock()
	if ok {
		if t.now().Before(c.ExpiresAt.Add(30 * time.Second)) {
			return c, nil
		}
		return nil, errBadToken
	}
	c, err := t.verify(s)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if len(t.verified) >= 10000 {
		clear(t.verified)
	}
	t.verified[s] = c
	t.mu.Unlock()
	return c, nil
}

func (t *Tokens) verify(s string) (*accessClaims, error) {
	c := &accessClaims{}
	_, err := jwt.ParseWithClaims(s, c, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		k, ok := t.keys.find(kid)
		if !ok {
			return nil, fmt.Errorf("unknown key %q", kid)
		}
		return k.public, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil || c.Subject == "" || c.SessionID == "" {
		return nil, errBadToken
	}
	return c, nil
}

// roles converts the token's role names back.
func (c *accessClaims) roles() []molarv1.Role {
	var out []molarv1.Role
	for _, n := range c.Roles {
		if r, ok := ParseRole(n); ok {
			out = append(out, r)
		}
	}
	return out
}
