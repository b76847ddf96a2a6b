package sim

import "time"

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

// Seed lays out seeded history: threads threads of perThread messages
// each (none when negative), one step apart as Spread places them from
// start to now in units of unit: one second apart, or closer when that is
// needed for the last to be no later than now, so that seeded history
// stays behind the clock and live events sort after it. It calls thread
// for thread i (from 0) at the time of its first message, then message for
// message j of it, which is the account's answer when answer: the other
// side and the account alternate, the other side first, and every third
// thread ends with the other side whatever the alternation gives (see
// SeedAnswer). A thread without messages still takes a step.
func Seed(start, now time.Time, threads, perThread int, unit time.Duration, thread func(i int, at time.Time), message func(i, j int, answer bool, at time.Time)) {
	perThread = max(perThread, 0)
	start, step := Spread(start, now, int64(threads)*int64(max(perThread, 1)), unit)
	var k int64
	at := func() time.Time { return start.Add(time.Duration(k) * step) }
	for i := range threads {
		thread(i, at())
		for j := range perThread {
			message(i, j, SeedAnswer(i, j, perThread), at())
			k++
		}
		if perThread == 0 {
			k++
		}
	}
}
