package sim

import "time"

// Stamps hands out the times of new events in one inbox. A time taken from
// the clock is strictly later than every time handed out before, even when
// the clock stands still or steps back: list orders and cursors built on
// those times then follow the order of events, which is what lets a walk
// by time lose nothing. The zero value hands out nanosecond times; it is
// not safe for concurrent use (the inbox's lock guards it).
type Stamps struct {
	// Unit is the resolution of the times, the finest the provider writes;
	// 0 means a nanosecond.
	Unit time.Duration
	// Ties lets a time taken from the clock equal the latest handed out
	// (never precede it), for providers that write times so coarse that
	// events share them.
	Ties bool
	last time.Time
}

// Next returns the time of a new event, in UTC. A zero at means now():
// truncated to Unit and, when that is not after the latest time handed
// out, one Unit past it. An explicit at is taken as given, so that tests
// and seeds can write history; a later one still moves the floor.
func (s *Stamps) Next(at time.Time, now func() time.Time) time.Time {
	unit := s.Unit
	if unit <= 0 {
		unit = time.Nanosecond
	}
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
	}
	if at.After(s.last) {
		s.last = at
	}
	return at
}
