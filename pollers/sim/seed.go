package sim

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// ErrRate is Pace's answer to a rate that is not positive and finite.
var ErrRate = errors.New("the rate must be positive and finite")

// Pace calls event perSecond times a second until ctx is done, paced by
// the wall clock, and then returns nil. Fast rates are served in batches:
// a ticker fires at most every 10ms and each tick performs the events due
// by then. After a stall (a slow event, a busy machine) it catches up by at
// most one second of events rather than a burst of everything missed. It
// returns ErrRate at once for a rate that is not positive and finite.
func Pace(ctx context.Context, perSecond float64, event func()) error {
	if !(perSecond > 0) || math.IsInf(perSecond, 1) {
		return ErrRate
	}
	interval := max(time.Duration(float64(time.Second)/perSecond), 10*time.Millisecond)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	begin := time.Now()
	var done int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			due := int64(now.Sub(begin).Seconds() * perSecond)
			done = max(done, due-int64(math.Ceil(perSecond)))
			for ; done < due; done++ {
				if ctx.Err() != nil {
					return nil
				}
				event()
			}
		}
	}
}

// Rand returns rnd, or a randomly seeded generator when rnd is nil: a
// seeded rnd makes Traffic reproducible, nil just makes it run.
func Rand(rnd *rand.Rand) *rand.Rand {
	if rnd == nil {
		return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return rnd
}

// Spread places n seeded events: one second apart from start, or closer
// when that is needed for the last to be no later than now, so that seeded
// history stays behind the clock and live events sort after it. A zero
// start means "so that the history ends now". The step is a whole number
// of units, at least one, like the times of live events; first is start in
// UTC.
func Spread(start, now time.Time, n int64, unit time.Duration) (first time.Time, step time.Duration) {
	n = max(n, 1)
	if start.IsZero() {
		start = now.Truncate(unit).Add(-time.Duration(n) * time.Second)
	}
	start = start.Round(0).UTC()
	step = time.Second
	if start.Before(now) {
		if span := now.Sub(start); span/time.Duration(n) < step {
			step = span / time.Duration(n)
		}
	}
	return start, max(step.Truncate(unit), unit)
}

// SeedAnswer reports whether message msg (from 0) of the n messages of
// seeded thread i is the account's own answer rather than the other
// side's. Seeded messages alternate, the other side first, and every third
// thread ends with the other side whatever the alternation gives, so that
// with an even n some threads still await a reply.
func SeedAnswer(i, msg, n int) bool { return msg%2 == 1 && !(msg == n-1 && i%3 == 2) }
