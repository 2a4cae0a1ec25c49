package auth

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
	"github.com/molar-dental/molar/services"
)

// BenchmarkAuthorize measures what the interceptor adds to an authenticated
// call: verifying the EdDSA token, the revocation check, and the permission.
func BenchmarkAuthorize(b *testing.B) {
	ks, err := ParseKeySet(NewKeySpec("k1"))
	if err != nil {
		b.Fatal(err)
	}
	tokens := NewTokens(ks, 15*time.Minute, time.Now)
	tok, _, _ := tokens.Issue(Account{ID: "u1", Email: "a@b.c", Roles: []molarv1.Role{molarv1.Role_ROLE_ADMIN}}, "s1")
	i := NewInterceptor(SchemaRules(), tokens, NewRevocations(nil, time.Minute, time.Now, nil), nil, services.Proxies{})
	h := http.Header{"Authorization": {"Bearer " + tok}, "User-Agent": {"bench"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.authorize(ctx, molarv1connect.StaffServiceListStaffProcedure, "127.0.0.1:5000", h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPasswordHash measures one argon2id verification with the shipped
// parameters: the bulk of a sign-in's cost. It reports the median.
func BenchmarkPasswordHash(b *testing.B) {
	h, err := HashPassword("a-long-admin-secret", DefaultHashParams)
	if err != nil {
		b.Fatal(err)
	}
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		if ok, _ := VerifyPassword("a-long-admin-secret", h); !ok {
			b.Fatal("refused")
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
}
