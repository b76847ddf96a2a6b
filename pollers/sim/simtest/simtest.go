// Package simtest is the conformance suite of the provider simulators and
// the test fixture they share. Run checks, against any simulator and
// through sim.Simulator, what every simulator does alike: injected and
// sustained faults, rate limits and the counters behind them, seeded
// history, live traffic and walks of the thread list while the inbox
// changes. A Target tells the suite the little it cannot learn from
// sim.Simulator: how the API takes a credential, where its lists are, how
// its error bodies read; Pending and Step build two of its fields from a
// simulator's registry of accounts. Serve, Fixture and Client serve a
// simulator to a provider's own tests, which keep what only that provider
// does, and Decode, ErrorBody and Assert read the answers they get.
package simtest

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Account is a simulator's account, by its key, and a credential that
// opens it.
type Account struct{ Key, Token string }

// Target is a provider's simulator, of type S made of a Config of type C,
// as the suite drives it.
type Target[S sim.Simulator, C any] struct {
	// New makes a simulator of a Config, with no accounts, and Now is the
	// field of a Config that is its clock (nil: the wall clock). Limited
	// is the Config of a rate limit that admits one request per
	// credential every Refill and answers the others with 429 and a
	// Retry-After of Refill in whole seconds; the zero C has none. Kit is
	// the simulator's Kit, whose OnTraffic tells the suite of live
	// traffic.
	New     func(c C) S
	Now     func(c *C) *func() time.Time
	Limited C
	Kit     func(s S) *sim.Kit
	// A and B are two accounts of the simulator; Register takes them.
	A, B Account
	// Auth puts a credential on a request.
	Auth Auth
	// ListPath is the path of the thread list's first page, and Lists
	// the orders it walks in (at least one).
	ListPath string
	Lists    []List
	// Messages is the endpoint (of Endpoints) of a thread's messages, and
	// MessagesPath the path of the messages of a thread.
	Messages     string
	MessagesPath func(threadID string) string
	// Refill is how long the Limited simulator takes to admit one more
	// request of a credential.
	Refill time.Duration
	// Refusal checks that r is the provider's error answer for r.Status:
	// its rate limiter's when limited, or else the one a fault without a
	// Body (injected or sustained) gets.
	Refusal func(r Response, limited bool) error
	// Empty is the body of the thread list of an empty inbox, to the byte
	// but for white space at its ends.
	Empty string
	// Step performs one event of the account's live traffic, as Traffic
	// does at its pace, and names it; Mix is the least number of times
	// each name comes in 2000 steps of a new account, from a seeded
	// generator.
	Step func(s S, account string, rnd *rand.Rand) string
	Mix  map[string]int
	// Pending, when set, is the number of the account's threads in the
	// set Traffic answers from: those whose last message is inbound,
	// unless closed.
	Pending func(s S, account string) int
}

// Pending is a Target's Pending for a simulator that keeps its accounts
// in the registry accounts(s), each with pending(a) threads in the set
// Traffic answers from.
func Pending[S any, A sim.Locker](accounts func(s S) *sim.Accounts[A], pending func(a A) int) func(s S, account string) int {
	return func(s S, account string) int {
		n, _ := sim.View(accounts(s), account, pending)
		return n
	}
}

// Step is a Target's Step for a simulator that keeps its accounts in the
// registry accounts(s) and performs one event of an account's live
// traffic with step.
func Step[S, A any](accounts func(s S) *sim.Accounts[A], step func(s S, a A, rnd *rand.Rand) string) func(s S, account string, rnd *rand.Rand) string {
	return func(s S, account string, rnd *rand.Rand) string { return step(s, accounts(s).Must(account), rnd) }
}

// List is an order of the thread list.
type List struct {
	Name string
	// Page fetches the page of up to limit threads that begins at cursor
	// ("" for the first page): the threads' ids and the cursor of the next
	// page, "" on the last.
	Page func(c Client, token, cursor string, limit int) (ids []string, next string, err error)
	// Reverse: the list shows a filled inbox's threads last first, in the
	// reverse of Truth's order.
	Reverse bool
	// Keeps: a walk lists every thread there was when it began, even one
	// written to meanwhile; otherwise only every one left alone.
	Keeps bool
	// Once: a walk lists no thread twice, whatever changes meanwhile.
	Once bool
}

// epoch is the suite's clock: explicit times are offsets from it.
var epoch = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

// Run checks the target's simulator; each check runs in parallel on
// simulators of its own.
func Run[S sim.Simulator, C any](t *testing.T, tg Target[S, C]) {
	for _, c := range []struct {
		name  string
		check func(t *testing.T, tg Target[S, C])
	}{
		{"Faults", faults[S, C]},
		{"Chain", chain[S, C]},
		{"Fill", fill[S, C]},
		{"Traffic", traffic[S, C]},
		{"Reproducible", reproducible[S, C]},
		{"Steps", steps[S, C]},
		{"Walks", walks[S, C]},
		{"ConcurrentWalks", concurrentWalks[S, C]},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, tg)
		})
	}
}

// config is the Config of a simulator, Limited or with no rate limit, on
// the clock now (nil: none yet).
func (tg Target[S, C]) config(limited bool, now func() time.Time) C {
	var c C
	if limited {
		c = tg.Limited
	}
	if now != nil {
		*tg.Now(&c) = now
	}
	return c
}

// serve serves the target's simulator, Limited or not, with accounts A
// and B, on the clock now or, when nil, one standing an hour past epoch.
func serve[S sim.Simulator, C any](t *testing.T, tg Target[S, C], limited bool, now func() time.Time) *Fixture[S] {
	t.Helper()
	return Serve(t, tg, epoch.Add(time.Hour), tg.config(limited, now))
}

// refused checks r: status, Retry-After (none when "") and the
// provider's error body.
func refused[S sim.Simulator, C any](t *testing.T, tg Target[S, C], what string, r Response, status int, retryAfter string, limited bool) {
	t.Helper()
	if r.Status != status || r.Header.Get("Retry-After") != retryAfter {
		t.Fatalf("%s: %d, Retry-After %q; want %d, %q: %.300s", what, r.Status, r.Header.Get("Retry-After"), status, retryAfter, r.Body)
	}
	if err := tg.Refusal(r, limited); err != nil {
		t.Fatalf("%s: %v: %.300s", what, err, r.Body)
	}
}

// ids are the threads' ids, in order.
func ids(ths []sim.Thread) []string { return IDs(ths, func(th sim.Thread) string { return th.ID }) }

// awaiting counts the threads awaiting a reply: open, with the other
// side's word last.
func awaiting(ths []sim.Thread) int {
	n := 0
	for _, th := range ths {
		if len(th.Messages) > 0 && th.Messages[len(th.Messages)-1].Direction == events.Inbound && !th.Closed {
			n++
		}
	}
	return n
}

// checkPending compares the target's pending set with the ground truth.
func checkPending[S sim.Simulator, C any](t *testing.T, tg Target[S, C], s S, account string) {
	t.Helper()
	if tg.Pending == nil {
		return
	}
	if got, want := tg.Pending(s, account), awaiting(s.Truth(account)); got != want {
		t.Fatalf("the pending set holds %d threads, %d await a reply", got, want)
	}
}

// trimmed is a body without the white space at its ends.
func trimmed(b []byte) string { return strings.TrimSpace(string(b)) }
