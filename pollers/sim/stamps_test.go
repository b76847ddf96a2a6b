package sim

import (
	"testing"
	"time"
)

func TestStampsStrictlyIncreasing(t *testing.T) {
	c := NewClock(time.Date(2024, 3, 1, 8, 0, 0, 123456789, time.FixedZone("+01", 3600)))
	s := Stamps{Unit: time.Millisecond}
	first := s.Next(time.Time{}, c.Now)
	if want := time.Date(2024, 3, 1, 7, 0, 0, 123000000, time.UTC); first != want {
		t.Fatalf("first stamp %v, want %v (UTC, whole milliseconds)", first, want)
	}
	// The clock stands still, then steps back: stamps still move on.
	second := s.Next(time.Time{}, c.Now)
	c.Advance(-time.Minute)
	third := s.Next(time.Time{}, c.Now)
	if second != first.Add(time.Millisecond) || third != second.Add(time.Millisecond) {
		t.Fatalf("stamps %v %v %v: want one unit apart", first, second, third)
	}
}

func TestStampsExplicit(t *testing.T) {
	var s Stamps // nanoseconds
	now := func() time.Time { return time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC) }
	past := time.Date(2023, 1, 1, 0, 0, 0, 7, time.UTC)
	if got := s.Next(past, now); got != past {
		t.Fatalf("explicit time %v came back as %v", past, got)
	}
	future := now().Add(time.Hour)
	s.Next(future, now)
	// A later explicit time is the new floor for clock times.
	if got := s.Next(time.Time{}, now); got != future.Add(time.Nanosecond) {
		t.Fatalf("clock stamp after a future explicit one: %v", got)
	}
	// An earlier explicit time is taken as given and moves nothing.
	if got := s.Next(past, now); got != past {
		t.Fatalf("explicit past time %v came back as %v", past, got)
	}
	if got := s.Next(time.Time{}, now); got != future.Add(2*time.Nanosecond) {
		t.Fatalf("an explicit past time moved the floor: %v", got)
	}
}
