package sim

import (
	"math"
	"sync"
	"time"
)

// Clock is a clock that moves only when told, for Config.Now in tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d, backwards when d is negative.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Now is a Config.Now: now, or time.Now when nil.
func Now(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// Stamps hands out an inbox's event times: from the clock, later than any before, so orders and
// cursors built on them follow the events.
type Stamps struct {
	Unit time.Duration // the finest the provider writes; 0: a nanosecond
	// Ties lets a clock time equal the latest, for times too coarse to differ.
	Ties bool
	// Coarse cuts explicit times to the Unit too.
	Coarse bool
	last   time.Time
}

// Next is the time of a new event in UTC: now() for a zero at, else at as given (if Coarse, cut).
func (s *Stamps) Next(at time.Time, now func() time.Time) time.Time {
	unit := If(s.Unit > 0, s.Unit, time.Nanosecond)
	if at.IsZero() {
		at = now().Round(0).UTC().Truncate(unit)
		switch {
		case s.Ties && at.Before(s.last):
			at = s.last
		case !s.Ties && !at.After(s.last):
			at = s.last.Add(unit)
		}
	} else {
		at = at.Round(0).UTC()
		if s.Coarse {
			at = at.Truncate(unit)
		}
	}
	if at.After(s.last) {
		s.last = at
	}
	return at
}

// Bucket is a token bucket on the simulator's clock, so a fake clock gets exactly the 429s it
// expects (golang.org/x/time/rate reads the wall clock).
type Bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

// NewBucket returns a full bucket of burst (default the rate, at least 1) tokens.
func NewBucket(rate float64, burst int) *Bucket {
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rate)))
	}
	return &Bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// Take spends a token at now if there is one; see Limiter.
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

// RetrySeconds is a wait in whole seconds, at least 1: a client told 0 would retry at once.
func RetrySeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
