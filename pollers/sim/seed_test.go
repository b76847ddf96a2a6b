package sim

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestPaceRunsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := Pace(ctx, 10000, func() {
		if n++; n == 50 {
			cancel()
		}
	})
	if err != nil || n != 50 {
		t.Fatalf("Pace: %v after %d events; want nil after 50", err, n)
	}
}

func TestPaceRejectsRates(t *testing.T) {
	for _, r := range []float64{0, -1, math.Inf(1), math.NaN()} {
		if err := Pace(context.Background(), r, func() { t.Fatal("event at an invalid rate") }); !errors.Is(err, ErrRate) {
			t.Errorf("rate %v: %v, want ErrRate", r, err)
		}
	}
}

func TestSpread(t *testing.T) {
	now := time.Date(2024, 3, 1, 8, 0, 0, 123456789, time.UTC)
	for name, c := range map[string]struct {
		start     time.Time
		n         int64
		unit      time.Duration
		wantStart time.Time
		wantStep  time.Duration
	}{
		"zero start ends now": {time.Time{}, 60, time.Microsecond, now.Truncate(time.Microsecond).Add(-time.Minute), time.Second},
		"long ago":            {now.Add(-24 * time.Hour), 10, time.Millisecond, now.Add(-24 * time.Hour), time.Second},
		"squeezed":            {now.Add(-time.Second), 3, time.Millisecond, now.Add(-time.Second), 333 * time.Millisecond},
		"squeezed to a unit":  {now.Add(-time.Millisecond), 1000, time.Millisecond, now.Add(-time.Millisecond), time.Millisecond},
		"in the future":       {now.Add(time.Hour), 5, time.Second, now.Add(time.Hour), time.Second},
	} {
		start, step := Spread(c.start, now, c.n, c.unit)
		if !start.Equal(c.wantStart) || start.Location() != time.UTC || step != c.wantStep {
			t.Errorf("%s: %v, %v; want %v, %v", name, start, step, c.wantStart, c.wantStep)
		}
	}
}

func TestRand(t *testing.T) {
	if Rand(nil) == nil {
		t.Fatal("Rand(nil) is nil")
	}
}

func TestSeedAnswer(t *testing.T) {
	// Four messages: threads alternate, except every third one, which
	// ends with the other side and so awaits a reply.
	for i, want := range map[int]string{0: "oaoa", 1: "oaoa", 2: "oaoo", 5: "oaoo"} {
		got := ""
		for j := range 4 {
			if SeedAnswer(i, j, 4) {
				got += "a"
			} else {
				got += "o"
			}
		}
		if got != want {
			t.Errorf("thread %d: %s, want %s", i, got, want)
		}
	}
}
