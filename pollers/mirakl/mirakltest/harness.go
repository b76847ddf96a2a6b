// Package mirakltest provides the Mirakl implementation of
// pollerstest.Harness over the Mirakl simulator, for the conformance suite,
// benchmarks and process-level tests.
package mirakltest

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/sim"
)

var _ pollerstest.Harness = (*Harness)(nil)

// ShopID is the shop every simulated account belongs to.
const ShopID = "2001"

// Harness runs the conformance suite (and any test that needs a live
// Mirakl inbox) on the Mirakl simulator, one simulator per account.
type Harness struct {
	sims pollerstest.Sims[*miraklsim.Server]
}

// NewHarness returns an empty harness.
func NewHarness() *Harness { return &Harness{} }

func (h *Harness) Provider() string { return mirakl.Name }

func (h *Harness) Features() pollers.Features {
	p, err := mirakl.New(pollers.Account{BaseURL: "http://127.0.0.1"}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}
func (h *Harness) Factory() pollers.Factory { return mirakl.New }

// Sim returns the simulator serving the account.
func (h *Harness) Sim(a pollers.Account) *miraklsim.Server { return h.sims.Get(a) }

// RandomKey returns a fresh API key.
func RandomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "mirakl-key-" + hex.EncodeToString(b[:])
}

func (h *Harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	srv := miraklsim.New(miraklsim.Config{})
	baseURL := h.sims.Serve(tb, srv)
	key := RandomKey()
	srv.AddShop(ShopID, key)
	return pollers.Account{
		Provider: mirakl.Name, ID: id, BaseURL: baseURL, Token: key,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute,
		Options: map[string]string{"shop_id": ShopID, "page_size": strconv.Itoa(pageSize)},
	}
}

func (h *Harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	srv := h.Sim(a)
	th := srv.AddThread(ShopID, miraklsim.NewThread{Customer: "Jane"})
	srv.AddMessage(ShopID, th, miraklsim.Customer, text, time.Time{})
	return th
}

func (h *Harness) AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) string {
	from := miraklsim.Customer
	if d == events.Outbound {
		from = miraklsim.Shop
	}
	return h.Sim(a).AddMessage(ShopID, threadID, from, text, time.Time{})
}

func (h *Harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.Sim(a).Seed(ShopID, threads, perThread, time.Time{})
}

func (h *Harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	var out []pollerstest.Thread
	for _, th := range h.Sim(a).Threads(ShopID) {
		pt := pollerstest.Thread{ID: th.ID}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction), At: m.At})
		}
		out = append(out, pt)
	}
	return out
}

func (h *Harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.Sim(a).InjectFault(miraklsim.Fault{Endpoint: "M11", Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n})
}

func (h *Harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.Sim(a).Stats()
	return pollerstest.Requests{List: int(st.M11Calls), Messages: int(st.M10Calls)}
}

func (h *Harness) Sustain(tb testing.TB, a pollers.Account, rules ...sim.Rule) {
	tb.Helper()
	if err := sim.CheckRules(rules...); err != nil {
		tb.Fatal(err)
	}
	h.Sim(a).SetSchedule(rules...)
}

func (h *Harness) Observed(tb testing.TB, a pollers.Account) sim.Observed {
	return h.Sim(a).ScheduleStats(ShopID)
}
