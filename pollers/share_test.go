package pollers_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestReplicasShareAccounts runs workers given the same accounts on one
// Redis: they split the accounts, a worker that stops leaves its accounts
// to the others, one that starts takes its share, and the stream holds each
// event once.
func TestReplicasShareAccounts(t *testing.T) {
	t.Parallel()
	h := pollerstest.NewSimHarness(pollerstest.Mirakl)
	var accts []pollers.Account
	for i := range 24 {
		a := h.NewAccount(t, fmt.Sprintf("shop-%02d", i), 10)
		a.PollInterval = 20 * time.Millisecond
		h.AddThread(t, a, "where is my parcel?")
		accts = append(accts, a)
	}
	_, rdb := checkpointtest.NewStore(t)
	prefix := checkpointtest.Prefix(t, rdb)
	js := eventstest.Start(t)
	logs := &pollerstest.Buffer{}

	type worker struct {
		e    *pollers.Engine
		stop context.CancelFunc
		done chan struct{}
	}
	start := func() *worker {
		store, err := checkpoint.New(rdb, prefix)
		if err != nil {
			t.Fatal(err)
		}
		e, err := pollers.New(pollers.Config{
			Store: store, Publisher: js.Publisher, LeaseTTL: 600 * time.Millisecond,
			Providers: map[string]pollers.Factory{h.Provider(): h.Factory()},
			Logger:    slog.New(slog.NewTextHandler(logs, nil)),
		}, accts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		w := &worker{e: e, stop: cancel, done: make(chan struct{})}
		go func() { defer close(w.done); _ = e.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-w.done })
		return w
	}
	// held counts the accounts each worker polls; settled means every
	// account is polled by exactly one of them.
	held := func(ws ...*worker) (counts []int, settled bool) {
		per := make([]int, len(accts))
		for _, w := range ws {
			n := 0
			for i, st := range w.e.Status() {
				if st.State == "ok" {
					n++
					per[i]++
				}
			}
			counts = append(counts, n)
		}
		for _, c := range per {
			if c != 1 {
				return counts, false
			}
		}
		return counts, true
	}
	await := func(what string, ok func([]int) bool, ws ...*worker) []int {
		t.Helper()
		var counts []int
		pollerstest.Until(t, what, func() bool {
			var settled bool
			counts, settled = held(ws...)
			return settled && ok(counts)
		}, logs)
		return counts
	}
	allHold := func(c []int) bool {
		for _, n := range c {
			if n == 0 {
				return false
			}
		}
		return true
	}

	a, b := start(), start()
	got := await("two workers", allHold, a, b)
	t.Logf("two workers hold %v of %d accounts", got, len(accts))

	b.stop()
	<-b.done
	await("b stopped", func(c []int) bool { return c[0] == len(accts) }, a)

	c := start()
	got = await("c joined", allHold, a, c)
	t.Logf("after a third worker joined and the second left: %v", got)

	want := 0
	for _, acct := range accts {
		e := pollerstest.Expect(h.Truth(t, acct))
		want += e.Created + e.Messages + e.Replies
	}
	if n := js.Count(t); n != uint64(want) {
		t.Errorf("stream holds %d events, want %d: an account was advanced twice", n, want)
	}
}
