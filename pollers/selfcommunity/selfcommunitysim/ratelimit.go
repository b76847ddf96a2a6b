package selfcommunitysim

import (
	"sync"
	"time"
)

// limiter is a token bucket on the server's clock (Config.Now), so a test
// with a fake clock sees exactly the 429s it expects, and it tells how long
// until the next token, which becomes Retry-After.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// take spends a token if there is one; otherwise it reports how long until
// there will be.
func (l *limiter) take(now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		// A clock that steps back adds nothing rather than removing tokens.
		if d := now.Sub(l.last).Seconds(); d > 0 {
			l.tokens = min(l.burst, l.tokens+d*l.rate)
		}
	}
	if l.last.IsZero() || now.After(l.last) {
		l.last = now
	}
	if l.tokens >= 1 {
		l.tokens--
		return 0, true
	}
	return time.Duration((1 - l.tokens) / l.rate * float64(time.Second)), false
}
