package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// BenchmarkChangePasswordFlood sends 200 wrong current passwords at once
// for one signed-in account, each from another loopback address (so the
// per-address limit does not stop them first), and reports the server's
// peak heap while they run and how many were checked before the account's
// lockout refused the rest.
func BenchmarkChangePasswordFlood(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		ts := startServer(&testing.T{})
		if _, err := ts.app.auth.CreateAccount(ctx, "flood@clinic.test", "flood", []molarv1.Role{molarv1.Role_ROLE_FRONT_DESK}, "Incheon-desk-2026", false); err != nil {
			b.Fatal(err)
		}
		res, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, ts.URL).Login(ctx,
			connect.NewRequest(&molarv1.LoginRequest{Email: "flood@clinic.test", Password: "Incheon-desk-2026"}))
		if err != nil {
			b.Fatal(err)
		}
		token := res.Msg.GetAccessToken()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		var checked, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				local := &net.TCPAddr{IP: net.IPv4(127, 1, byte(i/250), byte(1+i%250))}
				hc := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}}
				_, err := molarv1connect.NewAuthServiceClient(hc, ts.URL, bearer(token)).ChangePassword(ctx, connect.NewRequest(&molarv1.ChangePasswordRequest{
					CurrentPassword: fmt.Sprintf("guess-number-%03d", i), NewPassword: "Another-password-99"}))
				switch connect.CodeOf(err) {
				case connect.CodeInvalidArgument:
					checked.Add(1)
				case connect.CodeResourceExhausted:
					refused.Add(1)
				default:
					b.Errorf("guess %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		close(stop)
		<-sampled
		b.ReportMetric(float64(peak.Load()-min(peak.Load(), before.HeapAlloc))/(1<<20), "peak-heap-growth-MiB")
		b.ReportMetric(float64(checked.Load()), "checked")
		b.ReportMetric(float64(refused.Load()), "refused")
		_ = ts.Shutdown(ctx)
	}
}
