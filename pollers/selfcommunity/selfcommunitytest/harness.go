// Package selfcommunitytest provides the SelfCommunity implementation of
// pollerstest.Harness over the SelfCommunity simulator, for the conformance
// suite, benchmarks and process-level tests.
package selfcommunitytest

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/selfcommunity"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
	"github.com/threadsync/threadsync/pollers/sim"
)

var _ pollerstest.Harness = (*Harness)(nil)

// Owner is the username of every harness account's user.
const Owner = "community_owner"

// Harness runs the conformance suite (and any test that needs a live
// SelfCommunity inbox) on the SelfCommunity simulator, one simulator (one
// community) per account.
type Harness struct {
	sims pollerstest.Sims[*selfcommunitysim.Server]
}

// NewHarness returns an empty harness.
func NewHarness() *Harness { return &Harness{} }

func (h *Harness) Provider() string { return selfcommunity.Name }

func (h *Harness) Features() pollers.Features {
	p, err := selfcommunity.New(pollers.Account{BaseURL: "http://127.0.0.1", Options: map[string]string{"user_id": "1"}}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}

func (h *Harness) Factory() pollers.Factory { return selfcommunity.New }

// Sim returns the simulator serving the account.
func (h *Harness) Sim(a pollers.Account) *selfcommunitysim.Server { return h.sims.Get(a) }

// RandomToken returns a fresh token that looks like a django-oauth-toolkit
// access token.
func RandomToken() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return "sc" + hex.EncodeToString(b[:])
}

func (h *Harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	srv := selfcommunitysim.New(selfcommunitysim.Config{})
	baseURL := h.sims.Serve(tb, srv)
	token := RandomToken()
	uid := srv.AddAccount(Owner, token)
	return pollers.Account{
		Provider: selfcommunity.Name, ID: id, BaseURL: baseURL, Token: token,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute,
		// The default 10 requests/s would make the suite wait, not test more.
		Options: map[string]string{"user_id": uid, "page_size": strconv.Itoa(pageSize), "requests_per_second": "1000"},
	}
}

func (h *Harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	return h.Sim(a).AddThread(Owner, selfcommunitysim.NewThread{Text: text})
}

func (h *Harness) AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) string {
	from := selfcommunitysim.Other
	if d == events.Outbound {
		from = selfcommunitysim.Owner
	}
	return h.Sim(a).AddMessage(Owner, threadID, from, text, time.Time{})
}

func (h *Harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.Sim(a).Seed(Owner, threads, perThread)
}

func (h *Harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	var out []pollerstest.Thread
	for _, th := range h.Sim(a).Threads(Owner) {
		pt := pollerstest.Thread{ID: th.ID}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction), At: m.At})
		}
		out = append(out, pt)
	}
	return out
}

func (h *Harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.Sim(a).InjectFault(selfcommunitysim.Fault{
		Endpoint: selfcommunitysim.EndpointSnippets, Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n,
	})
}

func (h *Harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.Sim(a).Stats()
	return pollerstest.Requests{List: int(st.Snippets), Messages: int(st.Thread)}
}

func (h *Harness) Sustain(tb testing.TB, a pollers.Account, rules ...sim.Rule) {
	tb.Helper()
	if err := sim.CheckRules(rules...); err != nil {
		tb.Fatal(err)
	}
	h.Sim(a).SetSchedule(rules...)
}

func (h *Harness) Observed(tb testing.TB, a pollers.Account) sim.Observed {
	return h.Sim(a).ScheduleStats(Owner)
}
