package sim

import (
	"math"
	"sync"
	"time"
)

// Bucket is a token bucket on a clock the caller passes in (the
// simulator's Config.Now), so a test with a fake clock sees exactly the
// 429s it expects, and it tells how long until the next token, which
// becomes Retry-After. It is small enough that taking golang.org/x/time/rate
// as a direct dependency of the simulators would not pay, and that package
// reads the wall clock.
type Bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

// NewBucket returns a full bucket that holds burst tokens and gains rate
// tokens per second. A burst of 0 or less means rate rounded up, at least 1.
// rate must be positive.
func NewBucket(rate float64, burst int) *Bucket {
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rate)))
	}
	return &Bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// Take spends a token at now if there is one, and says how many whole
// tokens are left; otherwise it reports how long until there will be one.
func (b *Bucket) Take(now time.Time) (remaining int, wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		// A clock that steps back adds nothing rather than removing tokens.
		if d := now.Sub(b.last).Seconds(); d > 0 {
			b.tokens = min(b.burst, b.tokens+d*b.rate)
		}
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return int(b.tokens), 0, true
	}
	return 0, time.Duration((1 - b.tokens) / b.rate * float64(time.Second)), false
}

// RetrySeconds is a wait as Retry-After counts it: whole seconds, rounded
// up, at least 1, since a client told 0 would retry at once.
func RetrySeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
