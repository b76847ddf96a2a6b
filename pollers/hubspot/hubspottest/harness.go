// Package hubspottest provides the HubSpot implementation of
// pollerstest.Harness over the HubSpot simulator, for the conformance
// suite, benchmarks and process-level tests.
package hubspottest

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/hubspot"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/sim"
)

var _ pollerstest.Harness = (*Harness)(nil)

// Portal is the HubSpot account (portal) every simulated account reads.
const Portal = "24000001"

// Harness runs the conformance suite (and any test that needs a live
// HubSpot inbox) on the HubSpot simulator, one simulator per account.
type Harness struct {
	sims pollerstest.Sims[*hubspotsim.Server]
}

// NewHarness returns an empty harness.
func NewHarness() *Harness { return &Harness{} }

func (h *Harness) Provider() string { return hubspot.Name }

func (h *Harness) Features() pollers.Features {
	p, err := hubspot.New(pollers.Account{BaseURL: "http://127.0.0.1"}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}

func (h *Harness) Factory() pollers.Factory { return hubspot.New }

// Sim returns the simulator serving the account.
func (h *Harness) Sim(a pollers.Account) *hubspotsim.Server { return h.sims.Get(a) }

// RandomToken returns a fresh token that looks like a HubSpot private-app
// token.
func RandomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "pat-na1-" + hex.EncodeToString(b[:])
}

func (h *Harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	// HubSpot stamps events to the millisecond and, when many come in the
	// same millisecond, hands out later ones: a burst of seeded events
	// runs the simulator's clock ahead of threadsync's, and every walk
	// would then look at them again. A simulator clock a minute behind
	// keeps the suite's cost checks about threadsync, not about skew.
	return h.newAccount(tb, id, pageSize, hubspotsim.Config{Now: func() time.Time { return time.Now().Add(-time.Minute) }})
}

// newAccount serves a new simulator made with cfg and returns the account
// that reads it.
func (h *Harness) newAccount(tb testing.TB, id string, pageSize int, cfg hubspotsim.Config) pollers.Account {
	srv := hubspotsim.New(cfg)
	baseURL := h.sims.Serve(tb, srv)
	tok := RandomToken()
	srv.AddAccount(Portal, tok)
	return pollers.Account{
		Provider: hubspot.Name, ID: id, BaseURL: baseURL, Token: tok,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute,
		// The simulator has no burst limit here; HubSpot's default pace
		// (9 requests/s) would only make the suite slow.
		Options: map[string]string{"page_size": strconv.Itoa(pageSize), "requests_per_second": "1000"},
	}
}

func (h *Harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	srv := h.Sim(a)
	th := srv.AddThread(Portal, hubspotsim.NewThread{Visitor: "Jane"})
	srv.AddMessage(Portal, th, hubspotsim.Visitor, text, time.Time{})
	return th
}

func (h *Harness) AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) string {
	from := hubspotsim.Visitor
	if d == events.Outbound {
		from = hubspotsim.Agent
	}
	return h.Sim(a).AddMessage(Portal, threadID, from, text, time.Time{})
}

func (h *Harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.Sim(a).Seed(Portal, threads, perThread, time.Time{})
}

// Truth is what the account reads: archived threads are not listed without
// include_archived, and only MESSAGE entries are messages. A thread's
// Closed is its status now: the simulator keeps no history of closings.
func (h *Harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	var out []pollerstest.Thread
	for _, th := range h.Sim(a).Threads(Portal) {
		if th.Archived {
			continue
		}
		pt := pollerstest.Thread{ID: th.ID, Closed: th.Status == hubspotsim.StatusClosed}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction), At: m.At})
		}
		out = append(out, pt)
	}
	return out
}

func (h *Harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.Sim(a).InjectFault(hubspotsim.Fault{
		Endpoint: hubspotsim.EndpointThreads, Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n,
	})
}

func (h *Harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.Sim(a).Stats()
	return pollerstest.Requests{List: int(st.ThreadsCalls), Messages: int(st.MessagesCalls + st.OriginalContentCalls)}
}

func (h *Harness) Sustain(tb testing.TB, a pollers.Account, rules ...sim.Rule) {
	tb.Helper()
	if err := sim.CheckRules(rules...); err != nil {
		tb.Fatal(err)
	}
	h.Sim(a).SetSchedule(rules...)
}

func (h *Harness) Observed(tb testing.TB, a pollers.Account) sim.Observed {
	return h.Sim(a).ScheduleStats(Portal)
}
