package sim

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	b := NewBucket(2, 3)
	for i := range 3 {
		if rem, _, ok := b.Take(t0); !ok || rem != 2-i {
			t.Fatalf("burst request %d: ok %v, remaining %d", i, ok, rem)
		}
	}
	if _, wait, ok := b.Take(t0); ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: ok %v, wait %v; want a refusal and 500ms", ok, wait)
	}
	if _, _, ok := b.Take(t0.Add(500 * time.Millisecond)); !ok {
		t.Fatal("no token after the wait it announced")
	}
	// A clock that steps back neither adds nor removes tokens.
	if _, _, ok := b.Take(t0); ok {
		t.Fatal("a step back added a token")
	}
	// A long pause refills up to the burst, no further.
	later := t0.Add(time.Hour)
	for i := range 3 {
		if _, _, ok := b.Take(later); !ok {
			t.Fatalf("refilled request %d refused", i)
		}
	}
	if _, _, ok := b.Take(later); ok {
		t.Fatal("the bucket refilled beyond its burst")
	}
}

func TestBucketDefaultBurst(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	for rate, burst := range map[float64]int{0.5: 1, 2.5: 3, 10: 10} {
		b := NewBucket(rate, 0)
		n := 0
		for {
			if _, _, ok := b.Take(t0); !ok {
				break
			}
			n++
		}
		if n != burst {
			t.Errorf("rate %v: burst %d, want %d", rate, n, burst)
		}
	}
}

func TestRetrySeconds(t *testing.T) {
	for wait, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 90 * time.Second: 90} {
		if got := RetrySeconds(wait); got != want {
			t.Errorf("RetrySeconds(%v) = %d, want %d", wait, got, want)
		}
	}
}
