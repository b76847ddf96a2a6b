// Package partizaptest provides the Partizap implementation of
// pollerstest.Harness over the Partizap simulator, for the conformance
// suite, benchmarks and process-level tests.
package partizaptest

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/partizap"
	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/sim"
)

var _ pollerstest.Harness = (*Harness)(nil)

// VendorID is the simulated vendor's Partizap user id.
const VendorID = 5

// Harness runs the conformance suite (and any test that needs a live
// Partizap inbox) on the Partizap simulator, one simulator per account,
// configured by cfg and read with the extra options.
type Harness struct {
	cfg     partizapsim.Config
	options map[string]string

	sims pollerstest.Sims[*partizapsim.Server]
}

// NewHarness returns an empty harness over simulators in their default
// shape.
func NewHarness() *Harness { return NewHarnessWith(partizapsim.Config{}, nil) }

// NewHarnessWith returns an empty harness whose simulators run with cfg
// and whose accounts carry options on top of the harness's own, so one
// suite can cover the API shapes partizap.md leaves open.
func NewHarnessWith(cfg partizapsim.Config, options map[string]string) *Harness {
	return &Harness{cfg: cfg, options: options}
}

func (h *Harness) Provider() string { return partizap.Name }

func (h *Harness) Features() pollers.Features {
	p, err := partizap.New(pollers.Account{BaseURL: "http://127.0.0.1", Token: "x", Options: map[string]string{"user_id": "1"}}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}

func (h *Harness) Factory() pollers.Factory { return partizap.New }

// Sim returns the simulator serving the account.
func (h *Harness) Sim(a pollers.Account) *partizapsim.Server { return h.sims.Get(a) }

// RandomSession returns a fresh session token.
func RandomSession() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "sess-" + hex.EncodeToString(b[:])
}

func (h *Harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	srv := partizapsim.New(h.cfg)
	baseURL := h.sims.Serve(tb, srv)
	token := RandomSession()
	srv.AddVendor(VendorID, token)
	opts := map[string]string{
		"user_id": strconv.Itoa(VendorID), "page_size": strconv.Itoa(pageSize),
		// The default rate (5/s) is for a real API; the simulator is local.
		"requests_per_second": "1000",
	}
	maps.Copy(opts, h.options)
	return pollers.Account{
		Provider: partizap.Name, ID: id, BaseURL: baseURL, Token: token,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute, Options: opts,
	}
}

func threadID(tb testing.TB, s string) int64 {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		tb.Fatalf("thread id %q: %v", s, err)
	}
	return id
}

func (h *Harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	srv := h.Sim(a)
	id := srv.AddThread(VendorID, partizapsim.NewThread{Buyer: "Ivan"})
	srv.AddMessage(VendorID, id, partizapsim.Buyer, text, time.Time{})
	return strconv.FormatInt(id, 10)
}

func (h *Harness) AddMessage(tb testing.TB, a pollers.Account, thread string, d events.Direction, text string) string {
	from := partizapsim.Buyer
	if d == events.Outbound {
		from = partizapsim.Vendor
	}
	return strconv.FormatInt(h.Sim(a).AddMessage(VendorID, threadID(tb, thread), from, text, time.Time{}), 10)
}

func (h *Harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.Sim(a).Seed(VendorID, threads, perThread, time.Time{})
}

// Truth gives message times as the API writes them: to the precision of
// the simulator's TimeLayout (whole seconds by default), finer than which
// the client cannot know them.
func (h *Harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	tb.Helper()
	layout := h.cfg.TimeLayout
	if layout == "" {
		layout = time.RFC3339
	}
	var out []pollerstest.Thread
	for _, th := range h.Sim(a).Threads(VendorID) {
		pt := pollerstest.Thread{ID: strconv.FormatInt(th.ID, 10)}
		for _, m := range th.Messages {
			// Written and read in UTC: the instant is the one the API
			// states in whatever zone, the layout's precision applied.
			at, err := time.Parse(layout, m.At.UTC().Format(layout))
			if err != nil {
				tb.Fatalf("message %d: time %v in layout %q: %v", m.ID, m.At, layout, err)
			}
			pt.Messages = append(pt.Messages, pollerstest.Message{
				ID: strconv.FormatInt(m.ID, 10), Direction: events.Direction(m.Direction), At: at,
			})
		}
		out = append(out, pt)
	}
	return out
}

func (h *Harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.Sim(a).InjectFault(partizapsim.Fault{Endpoint: partizapsim.EndpointConversations, Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n})
}

func (h *Harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.Sim(a).Stats()
	return pollerstest.Requests{List: int(st.ConversationsCalls), Messages: int(st.MessagesCalls)}
}

func (h *Harness) Sustain(tb testing.TB, a pollers.Account, rules ...sim.Rule) {
	tb.Helper()
	if err := sim.CheckRules(rules...); err != nil {
		tb.Fatal(err)
	}
	h.Sim(a).SetSchedule(rules...)
}

func (h *Harness) Observed(tb testing.TB, a pollers.Account) sim.Observed {
	return h.Sim(a).ScheduleStats(VendorID)
}
