package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter is a token bucket per client address. It lives in the process:
// each server process limits the attempts that reach it.
type ipLimiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiter(perMinute, burst int, now func() time.Time) *ipLimiter {
	return &ipLimiter{every: rate.Limit(float64(perMinute) / 60), burst: burst, buckets: map[string]*bucket{}, now: now}
}

// allow takes a token for ip, or says how long until one is free.
func (l *ipLimiter) allow(ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.buckets) > 10000 {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
	}
	b := l.buckets[ip]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[ip] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
