package main

import (
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestTwoWorkersOneAccount runs two real processes on the same account:
// one works, the other stands by; only one ever publishes a page, and when
// the first stops, the second takes over.
func TestTwoWorkersOneAccount(t *testing.T) {
	t.Parallel()
	h := pollerstest.NewSimHarness(pollerstest.Mirakl)
	a := h.NewAccount(t, "shared", 5)
	for _, th := range pollerstest.OpenThreads(t, h, a, 30) {
		h.AddMessage(t, a, th, events.Outbound, "a")
	}
	b := newBacking(t)
	js := b.js
	b.writeAccounts("accounts:\n" + accountEntry(a))
	env := b.env("THREADSYNC_LEASE_TTL=2s", "THREADSYNC_LOG_LEVEL=debug")
	x, y := startProc(t, "A", env, "run"), startProc(t, "B", env, "run")
	x.waitReady()
	y.waitReady()

	total := pollerstest.Expect(h.Truth(t, a)).Events()
	// The stream is the count of events; the JetStream de-duplication
	// would hide a second worker publishing them again, so each worker's
	// threadsync_events_total says who published. A worker counts a poll's
	// events once the poll is done, after the stream has stored them: the
	// counters are waited for, not read when the stream is full.
	onStream := func() int { return int(js.Count(t)) }
	waitFor(t, "the account's events on the stream", 60*time.Second, func() bool { return onStream() >= total }, x, y)
	var px, py int
	waitFor(t, "the workers' event counters to reach the stream's", 60*time.Second, func() bool {
		px, py = x.metricSum("threadsync_events_total"), y.metricSum("threadsync_events_total")
		return px+py >= total
	}, x, y)
	if px != 0 && py != 0 {
		t.Fatalf("A published %d and B %d events for %d distinct: both advanced the account", px, py, total)
	}
	// The worker holding the account now stops (releasing its lease); the
	// other takes over. Which one holds it is what /status says once both
	// have polled: one ok, the other standing by.
	var leader, standby *proc
	waitFor(t, "one worker polling, the other standing by", 60*time.Second, func() bool {
		switch sx, sy := x.accountState(), y.accountState(); {
		case sx == "ok" && sy == "standby":
			leader, standby = x, y
		case sy == "ok" && sx == "standby":
			leader, standby = y, x
		default:
			return false
		}
		return true
	}, x, y)
	leader.stop()
	th := h.Truth(t, a)[0].ID
	h.AddMessage(t, a, th, events.Inbound, "hello again")
	// The message and its ReplyNeeded; only the standby runs to publish them.
	waitFor(t, "the new message on the stream", 60*time.Second, func() bool { return onStream() >= total+2 }, standby)
	waitFor(t, "the remaining worker holding the account", 60*time.Second, func() bool { return standby.accountState() == "ok" }, standby)
	standby.stop()
	if n := onStream(); n != total+2 {
		t.Fatalf("stream holds %d events, want %d", n, total+2)
	}
	seen := map[string]bool{}
	for _, r := range js.ReadAll(t) {
		if seen[r.Envelope.ID] {
			t.Fatalf("event %s twice on the stream", r.Envelope.ID)
		}
		seen[r.Envelope.ID] = true
	}
}
