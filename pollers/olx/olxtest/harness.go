// Package olxtest provides the OLX implementation of pollerstest.Harness
// over the OLX simulator, for the conformance suite, benchmarks and
// process-level tests.
package olxtest

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/olx"
	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/sim"
)

var _ pollerstest.Harness = (*Harness)(nil)

// User is the OLX user every simulated account reads.
const User = "seller"

// Zone is where the simulated OLX writes its zone-less times: the suite
// then checks that the client reads them in the account's timezone.
const Zone = "Europe/Warsaw"

// Harness runs the conformance suite (and any test that needs a live OLX
// inbox) on the OLX simulator, one simulator per account.
type Harness struct {
	sims pollerstest.Sims[*olxsim.Server]
}

// NewHarness returns an empty harness.
func NewHarness() *Harness { return &Harness{} }

func (h *Harness) Provider() string         { return olx.Name }
func (h *Harness) Factory() pollers.Factory { return olx.New }

func (h *Harness) Features() pollers.Features {
	p, err := olx.New(pollers.Account{BaseURL: "http://127.0.0.1"}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}

// Sim returns the simulator serving the account.
func (h *Harness) Sim(a pollers.Account) *olxsim.Server { return h.sims.Get(a) }

// RandomToken returns a fresh access token.
func RandomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "olx-token-" + hex.EncodeToString(b[:])
}

func (h *Harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	loc, err := time.LoadLocation(Zone)
	if err != nil {
		tb.Fatal(err)
	}
	srv := olxsim.New(olxsim.Config{Location: loc})
	baseURL := h.sims.Serve(tb, srv)
	tok := RandomToken()
	srv.AddAccount(User, tok)
	return pollers.Account{
		Provider: olx.Name, ID: id, BaseURL: baseURL, Token: tok,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute,
		// Every changed thread costs a message request, so the default
		// of 10 requests per second would make the suite slow, not stricter.
		Options: map[string]string{"timezone": Zone, "page_size": strconv.Itoa(pageSize), "requests_per_second": "500"},
	}
}

func (h *Harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	srv := h.Sim(a)
	th := srv.AddThread(User, olxsim.NewThread{})
	srv.AddMessage(User, th, olxsim.Interlocutor, text, time.Time{})
	return th
}

func (h *Harness) AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) string {
	from := olxsim.Interlocutor
	if d == events.Outbound {
		from = olxsim.Owner
	}
	return h.Sim(a).AddMessage(User, threadID, from, text, time.Time{})
}

func (h *Harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.Sim(a).Seed(User, threads, perThread, time.Time{})
}

// Truth lists the threads least recently active first, so the suite's
// "first" thread is the one at the bottom of OLX's list.
func (h *Harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	var out []pollerstest.Thread
	for _, th := range h.Sim(a).Threads(User) {
		pt := pollerstest.Thread{ID: th.ID}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction), At: m.At})
		}
		out = append(out, pt)
	}
	slices.Reverse(out)
	return out
}

func (h *Harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.Sim(a).InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointThreads, Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n})
}

func (h *Harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.Sim(a).Stats()
	return pollerstest.Requests{List: int(st.Threads), Messages: int(st.Messages)}
}

func (h *Harness) Sustain(tb testing.TB, a pollers.Account, rules ...sim.Rule) {
	tb.Helper()
	if err := sim.CheckRules(rules...); err != nil {
		tb.Fatal(err)
	}
	h.Sim(a).SetSchedule(rules...)
}

func (h *Harness) Observed(tb testing.TB, a pollers.Account) sim.Observed {
	return h.Sim(a).ScheduleStats(User)
}
