// Package pollerstest is the conformance suite every provider runs against
// its own simulator, through the real engine, a real Redis and a real
// JetStream: adding a provider means writing its client and its simulator,
// and passing Run.
package pollerstest

import (
	"testing"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Harness drives one provider's simulator for the suite.
type Harness interface {
	// Provider is the provider's name and Factory its poller.
	Provider() string
	Factory() pollers.Factory
	// NewAccount creates an empty inbox on a simulator of its own and
	// returns the account that reads it, listing pageSize threads per page.
	// Features are what the provider declares (Provider.Features()).
	Features() pollers.Features
	NewAccount(tb testing.TB, id string, pageSize int) pollers.Account
	// AddThread opens a thread in which the other side writes first.
	AddThread(tb testing.TB, a pollers.Account, text string) (threadID string)
	// AddMessage adds a message to a thread, written by the other side
	// (events.Inbound) or by the account owner (events.Outbound).
	AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) (messageID string)
	// Seed quickly creates threads, each with perThread messages
	// alternating inbound and outbound, starting inbound.
	Seed(tb testing.TB, a pollers.Account, threads, perThread int)
	// Truth is the simulator's ground truth: every thread and its messages.
	Truth(tb testing.TB, a pollers.Account) []Thread
	// Fail makes the account's next n list requests fail as f says.
	Fail(tb testing.TB, a pollers.Account, f Fault, n int)
	// FailNext makes the account's next n requests fail as f says,
	// whatever their endpoint: a scenario calls it right before the
	// request it aims at (see Watch).
	FailNext(tb testing.TB, a pollers.Account, f Fault, n int)
	// Requests counts the account's requests so far, per kind.
	Requests(tb testing.TB, a pollers.Account) Requests
	// Sustain makes the account's simulator answer by rules from now on,
	// on every endpoint (thread lists and message fetches alike): each
	// rule answers every Every-th request of the account with an error
	// in the provider's own format, a slow answer, a reset connection or
	// a body cut short (see sim.Rule). The rules replace the previous
	// ones and number the requests from 1 again; no rules clears them.
	// An invalid rule fails the test. One-shot faults (Fail) still come
	// first.
	Sustain(tb testing.TB, a pollers.Account, rules ...sim.Rule)
	// Observed is what the simulator saw of the account's client: its
	// requests, the sustained faults answered, the most requests it had
	// in flight at once, and the requests it sent sooner than a 429's
	// Retry-After allowed.
	Observed(tb testing.TB, a pollers.Account) sim.Observed
	// Hooks are the actions on an account's inbox that only some
	// providers' simulators can take.
	Hooks() Hooks
}

// Hooks act on a harness account's inbox beyond sim.Simulator; a nil one
// is an action the provider's API does not have.
type Hooks struct {
	// Remove takes a thread out of the thread list: OLX deleting it,
	// SelfCommunity hiding it, HubSpot archiving it.
	Remove func(tb testing.TB, a pollers.Account, threadID string)
	// Close closes a thread (HubSpot's CLOSED), which ends an open
	// reply-needed episode without an answer.
	Close func(tb testing.TB, a pollers.Account, threadID string)
	// RefuseToken makes the API refuse the next page token it is sent, as
	// one it no longer knows.
	RefuseToken func(tb testing.TB, a pollers.Account)
}

// Thread is a thread as the simulator knows it, and Message one of its
// messages (see sim.Thread).
type (
	Thread  = sim.Thread
	Message = sim.Message
)

// Fault is a failure a simulator serves instead of a list page.
type Fault struct {
	Status     int    // HTTP status
	RetryAfter string // Retry-After header; empty for none
	Body       string // raw body; empty for the simulator's own error body
}

// Requests counts requests to a simulator.
type Requests struct {
	List     int // thread-list pages
	Messages int // message fetches
}

// Expected is what a full sync of the ground truth must publish.
type Expected struct {
	Created, Messages, Replies int
}

// Expect computes what a full sync of threads publishes: one ThreadCreated
// per thread, one MessageReceived per message, one ReplyNeeded per thread
// with an episode still open (see Pending).
func Expect(threads []Thread) Expected {
	var e Expected
	for _, th := range threads {
		e.Created++
		e.Messages += len(th.Messages)
		if Pending(th) {
			e.Replies++
		}
	}
	return e
}

// Pending reports whether the thread awaits the owner's reply: its last
// episode is still open (its newest owner message, if any, is followed by
// an inbound one, and it is not closed).
func Pending(th Thread) bool {
	eps := Episodes(th)
	return len(eps) > 0 && eps[len(eps)-1].Open()
}
