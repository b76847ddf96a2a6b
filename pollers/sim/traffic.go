package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
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

// Pick is a random item of items.
func Pick[T any](rnd *rand.Rand, items []T) T { return items[rnd.IntN(len(items))] }

// Event is one kind of live traffic: Do performs it and reports whether
// there was anything to do, Share is its part of all events.
type Event struct {
	Name  string
	Share float64
	Do    func() bool
}

// Step performs one event of live traffic with l locked: the one p (in
// [0, 1), drawn by the caller) falls in by the events' shares, or the
// first when empty says the inbox is (a thread must be opened first). It
// returns the event's name, or None when it found nothing to do.
func Step(l sync.Locker, p float64, empty func() bool, events ...Event) string {
	l.Lock()
	defer l.Unlock()
	if empty() {
		p = 0
	}
	for i, e := range events {
		if p -= e.Share; p < 0 || i == len(events)-1 {
			if e.Do() {
				return e.Name
			}
			break
		}
	}
	return ""
}

// The names of the live-traffic events every provider has; Step returns
// None when an event found nothing to do.
const (
	None      = ""
	NewThread = "new_thread"
)

// Live runs step perSecond times a second until ctx is done (see Pace:
// the wall clock paces it), and then OnTraffic if set; it returns nil once
// ctx is done. rnd drives every choice, so a seeded rnd gives a
// reproducible sequence of events; nil means a randomly seeded one. A rate
// that is not positive and finite is an error that prefix (the
// simulator's name) begins.
func (k *Kit) Live(ctx context.Context, prefix string, perSecond float64, rnd *rand.Rand, step func(rnd *rand.Rand)) error {
	rnd = Rand(rnd)
	err := Pace(ctx, perSecond, func() {
		step(rnd)
		if k.OnTraffic != nil {
			k.OnTraffic()
		}
	})
	if err != nil {
		return fmt.Errorf("%s: Traffic: %w", prefix, err)
	}
	return nil
}

// Run is an account's Traffic: Live with step on the account key, or an
// error for an unknown account.
func Run[A any](k *Kit, as *Accounts[A], ctx context.Context, key string, perSecond float64, rnd *rand.Rand, step func(a A, rnd *rand.Rand) string) error {
	a, err := as.Get(key)
	if err != nil {
		return err
	}
	return k.Live(ctx, as.prefix(), perSecond, rnd, func(rnd *rand.Rand) { step(a, rnd) })
}
