package sim

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/events"
)

// Simulator is what every provider's simulator offers beside its own Go
// API, in terms that do not depend on the provider: the conformance
// harness (pollerstest) and providersim drive every simulator through it.
// A provider writes the Inbox half; its embedded Kit is the Controls.
type Simulator interface {
	http.Handler
	Inbox
	Controls
}

// Inbox is a simulator's inbox in the provider's own model, reached in
// common terms. Accounts are named by their key, the name Fault.Account
// and ScheduleStats use.
type Inbox interface {
	// Register adds the account (if new) and a credential for it, and
	// returns the options a poller needs to read it (a shop id, a user id,
	// a timezone), beside its base URL and token.
	Register(account, token string) (options map[string]string)
	// Open starts a thread in which the other side writes text first.
	Open(account, text string) (threadID string)
	// Write adds a message to a thread, by the other side (events.Inbound)
	// or the account's owner (events.Outbound).
	Write(account, threadID string, d events.Direction, text string) (messageID string)
	// Fill seeds threads of perThread messages each, laid out as Seed
	// does, ending now.
	Fill(account string, threads, perThread int)
	// Truth is the account's inbox as the poller should read it.
	Truth(account string) []Thread
	// Traffic keeps the account's inbox moving until ctx is done, at
	// perSecond events a second, driven by rnd (see Kit.Live).
	Traffic(ctx context.Context, account string, perSecond float64, rnd *rand.Rand) error
}

// Controls are what tests and providersim do to any simulator: Kit's
// methods.
type Controls interface {
	InjectFault(f Fault)
	ClearFaults()
	SetSchedule(rules ...Rule)
	ScheduleStats(account string) Observed
	AllScheduleStats() map[string]Observed
	ResetStats()
	Requests() (list, messages int64)
	Endpoints() []string
	ListEndpoint() string
	Report() any
}

var _ Controls = (*Kit)(nil)

// Thread is a thread of a simulator's ground truth, as a poller reads it.
type Thread struct {
	ID       string
	Messages []Message // oldest first
	// Closed: the thread is closed now (HubSpot's CLOSED), which ends an
	// episode open at the time.
	Closed bool
}

// Message is a message of a simulator's ground truth.
type Message struct {
	ID        string
	Direction events.Direction
	// At is when the message was written, as the provider's API states
	// it (to the precision the API writes).
	At time.Time
}

// Direction is events.Inbound, or events.Outbound when outbound.
func Direction(outbound bool) events.Direction {
	if outbound {
		return events.Outbound
	}
	return events.Inbound
}

// By is in for an inbound message and out for an outbound one: a
// provider's sender of a direction.
func By[S any](d events.Direction, in, out S) S {
	if d == events.Outbound {
		return out
	}
	return in
}

// Truth turns a provider's ground truth into the suite's: thread gives a
// thread's id, whether it is closed and its messages, message a message's
// id, direction (as the provider's MessageInfo spells it) and time.
func Truth[T, M any](threads []T, thread func(T) (id string, closed bool, msgs []M), message func(M) (id, dir string, at time.Time)) []Thread {
	var out []Thread
	for _, t := range threads {
		id, closed, msgs := thread(t)
		th := Thread{ID: id, Closed: closed}
		for _, m := range msgs {
			id, dir, at := message(m)
			th.Messages = append(th.Messages, Message{ID: id, Direction: events.Direction(dir), At: at})
		}
		out = append(out, th)
	}
	return out
}

// Name is names[i], the name of the i-th value of an enum, or typ(i) for
// a value without one (the zero value of the simulators' enums is
// deliberately invalid, so a forgotten argument shows).
func Name(typ string, i int, names ...string) string {
	if i > 0 && i < len(names) && names[i] != "" {
		return names[i]
	}
	return typ + "(" + strconv.Itoa(i) + ")"
}
