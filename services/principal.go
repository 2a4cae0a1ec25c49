package services

import (
	"context"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Principal is the signed-in member of staff a request acts for.
type Principal struct {
	StaffID string
	Email   string
	// Name is the display name colleagues know them by.
	Name      string
	SessionID string
	Roles     []molarv1.Role
	// Permissions is the union of the roles' grants.
	Permissions map[molarv1.Permission]bool
	// MustChangePassword limits the session to changing the password.
	MustChangePassword bool
}

// Can reports whether the principal holds p.
func (p *Principal) Can(perm molarv1.Permission) bool {
	return p != nil && p.Permissions[perm]
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx, or nil outside a signed-in
// request.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

type peerKey struct{}

// Peer describes where a request came from, for the audit trail.
type Peer struct {
	IP        string
	UserAgent string
}

// WithPeer returns ctx carrying the request's origin.
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFrom returns the request's origin, or the zero Peer.
func PeerFrom(ctx context.Context) Peer {
	p, _ := ctx.Value(peerKey{}).(Peer)
	return p
}
