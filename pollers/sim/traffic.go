package sim

import (
	"cmp"
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

// Pace calls event perSecond times a second until ctx is done, catching up
// at most a second. The first call comes at a random point of the first
// period, so that accounts started together write at an even pace, not in
// step.
func Pace(ctx context.Context, perSecond float64, event func()) error {
	if !(perSecond > 0) || math.IsInf(perSecond, 1) {
		return ErrRate
	}
	period := time.Duration(float64(time.Second) / perSecond)
	begin := time.Now().Add(-rand.N(max(period, 1)))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var done int64
	for {
		next := begin.Add(time.Duration(float64(done+1) / perSecond * float64(time.Second)))
		timer.Reset(max(time.Until(next), 10*time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case now := <-timer.C:
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

// Rand returns rnd, or a randomly seeded generator when rnd is nil; a seeded rnd reproduces Traffic.
func Rand(rnd *rand.Rand) *rand.Rand {
	return cmp.Or(rnd, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
}

// Pick is a random item of items.
func Pick[T any](rnd *rand.Rand, items []T) T { return items[rnd.IntN(len(items))] }

// Event is a kind of live traffic, a Share of all; Do reports whether it found something to do.
type Event struct {
	Name  string
	Share float64
	Do    func() bool
}

// Step performs with l locked the event p in [0, 1) falls in (the first in an empty inbox)
// and names it; None when it did nothing.
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

// Names of the live-traffic events every provider has.
const (
	None      = ""
	NewThread = "new_thread"
)

// Run is an account's Traffic: step on the account key, then OnTraffic, perSecond times a
// second; a seeded rnd reproduces it.
func Run[A any](k *Kit, as *Accounts[A], ctx context.Context, key string, perSecond float64, rnd *rand.Rand, step func(a A, rnd *rand.Rand) string) error {
	a, err := as.Get(key)
	if err != nil {
		return err
	}
	rnd = Rand(rnd)
	err = Pace(ctx, perSecond, func() {
		step(a, rnd)
		if k.OnTraffic != nil {
			k.OnTraffic()
		}
	})
	if err != nil {
		return fmt.Errorf("%s: Traffic: %w", as.prefix(), err)
	}
	return nil
}

// Spread places n seeded events a second apart from start (zero: ending now), or closer, in
// whole units, so history stays behind the clock.
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

// SeedAnswer reports whether message msg of the n of seeded thread i is the account's: sides
// alternate and every third thread ends with the other side, so some await a reply.
func SeedAnswer(i, msg, n int) bool { return msg%2 == 1 && !(msg == n-1 && i%3 == 2) }

// Seed lays out threads of perThread messages as Spread places them: thread makes thread i,
// message writes message j in it; a thread lead picks (nil: none) opens with an entry of its
// own, a step before them. It returns the threads.
func Seed[T any](start, now time.Time, threads, perThread int, unit time.Duration, lead func(i int) bool, thread func(i int, at time.Time) T, message func(t T, i, j int, answer bool, at time.Time)) []T {
	perThread = max(perThread, 0)
	steps := func(i int) int64 { return int64(max(perThread+If(lead != nil && lead(i), 1, 0), 1)) }
	var total, k int64
	for i := range threads {
		total += steps(i)
	}
	start, step := Spread(start, now, total, unit)
	at := func() time.Time { return start.Add(time.Duration(k) * step) }
	out := make([]T, 0, max(threads, 0))
	for i := range threads {
		t := thread(i, at())
		out = append(out, t)
		// A lead takes a step of its own, and so does a thread without messages.
		k += steps(i) - int64(perThread)
		for j := range perThread {
			message(t, i, j, SeedAnswer(i, j, perThread), at())
			k++
		}
	}
	return out
}

// Script is what simulated people say: names and lines of the other side, answers of the account.
type Script struct{ Names, In, Out []string }

// Line is the text of message j of seeded thread i, an answer when answer.
func (s Script) Line(i, j int, answer bool) string {
	if answer {
		return s.Out[(i+j)%len(s.Out)]
	}
	return s.In[(i+j)%len(s.In)]
}
