package pollers

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	r := &runner{cfg: &Config{MinBackoff: time.Second, MaxBackoff: 5 * time.Minute}}
	within := func(d, lo, hi time.Duration) bool { return d >= lo && d <= hi }

	plain := errors.New("HTTP 500")
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 30: 5 * time.Minute} {
		r.failures = n
		if d := r.backoff(plain); !within(d, want/2, want) {
			t.Errorf("failure %d: backoff %s, want within [%s, %s]", n, d, want/2, want)
		}
	}
	// Rejected credentials start at 30s and keep growing.
	auth := fmt.Errorf("list: %w", &HTTPError{Status: 401})
	r.failures = 1
	first := r.backoff(auth)
	r.failures = 3
	third := r.backoff(auth)
	if !within(first, 15*time.Second, 30*time.Second) || !within(third, 60*time.Second, 120*time.Second) {
		t.Errorf("credential backoff %s then %s, want ~30s then ~120s", first, third)
	}
	// Retry-After wins, even beyond the maximum (a daily quota).
	r.failures = 1
	if d := r.backoff(&HTTPError{Status: 429, RetryAfter: 7 * time.Second}); !within(d, 7*time.Second, 7*time.Second+250*time.Millisecond) {
		t.Errorf("Retry-After 7s: backoff %s", d)
	}
	if d := r.backoff(&HTTPError{Status: 429, RetryAfter: 3 * time.Hour}); d != 3*time.Hour {
		t.Errorf("Retry-After 3h: backoff %s", d)
	}
	// A 429 without Retry-After backs off like any failure.
	r.failures = 2
	if d := r.backoff(&HTTPError{Status: 429}); !within(d, time.Second, 2*time.Second) {
		t.Errorf("429 without Retry-After: backoff %s", d)
	}
}
