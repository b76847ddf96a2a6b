package pollers_test

import (
	"fmt"
	"testing"
	"time"

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
		accts = append(accts, waitingAccount(t, h, fmt.Sprintf("shop-%02d", i), 10, "where is my parcel?"))
	}
	w := pollerstest.NewWorld(t)

	type worker struct {
		e    *pollers.Engine
		stop func()
	}
	start := func() *worker {
		e := w.Engine(pollers.Config{Store: w.Replica(), LeaseTTL: 600 * time.Millisecond}, accts...)
		return &worker{e: e, stop: w.Run(e)}
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
		w.Until(what, func() bool {
			var settled bool
			counts, settled = held(ws...)
			return settled && ok(counts)
		})
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
	await("b stopped", func(c []int) bool { return c[0] == len(accts) }, a)

	c := start()
	got = await("c joined", allHold, a, c)
	t.Logf("after a third worker joined and the second left: %v", got)

	want := 0
	for _, acct := range accts {
		want += pollerstest.Expect(h.Truth(t, acct)).Events()
	}
	if n := w.JS.Count(t); n != uint64(want) {
		t.Errorf("stream holds %d events, want %d: an account was advanced twice", n, want)
	}
}

// waitingAccount is an account of h polled every 20ms, its pageSize
// threads a page, with one thread in which the customer wrote text.
func waitingAccount(t *testing.T, h pollerstest.Harness, id string, pageSize int, text string) pollers.Account {
	t.Helper()
	a := h.NewAccount(t, id, pageSize)
	a.PollInterval = 20 * time.Millisecond
	h.AddThread(t, a, text)
	return a
}
