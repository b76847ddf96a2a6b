package hubspot_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/hubspot"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

const portal = "24000001"

// harness runs the conformance suite on the HubSpot simulator, one
// simulator per account.
type harness struct {
	mu   sync.Mutex
	sims map[string]*hubspotsim.Server // by base URL
}

func newHarness() *harness { return &harness{sims: map[string]*hubspotsim.Server{}} }

func (h *harness) Provider() string { return hubspot.Name }

func (h *harness) Features() pollers.Features {
	p, err := hubspot.New(pollers.Account{BaseURL: "http://127.0.0.1"}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}

func (h *harness) Factory() pollers.Factory { return hubspot.New }

func (h *harness) sim(a pollers.Account) *hubspotsim.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sims[a.BaseURL]
}

// randomToken looks like a HubSpot private-app token.
func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "pat-na1-" + hex.EncodeToString(b[:])
}

func (h *harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	sim := hubspotsim.New(hubspotsim.Config{})
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	tok := randomToken()
	sim.AddAccount(portal, tok)
	h.mu.Lock()
	h.sims[srv.URL] = sim
	h.mu.Unlock()
	return pollers.Account{
		Provider: hubspot.Name, ID: id, BaseURL: srv.URL, Token: tok,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute,
		// The simulator has no burst limit here; HubSpot's default pace
		// (9 requests/s) would only make the suite slow.
		Options: map[string]string{"page_size": strconv.Itoa(pageSize), "requests_per_second": "1000"},
	}
}

func (h *harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	sim := h.sim(a)
	th := sim.AddThread(portal, hubspotsim.NewThread{Visitor: "Jane"})
	sim.AddMessage(portal, th, hubspotsim.Visitor, text, time.Time{})
	return th
}

func (h *harness) AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) string {
	from := hubspotsim.Visitor
	if d == events.Outbound {
		from = hubspotsim.Agent
	}
	return h.sim(a).AddMessage(portal, threadID, from, text, time.Time{})
}

func (h *harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.sim(a).Seed(portal, threads, perThread, time.Time{})
}

// Truth is what the account reads: archived threads are not listed without
// include_archived, and only MESSAGE entries are messages.
func (h *harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	var out []pollerstest.Thread
	for _, th := range h.sim(a).Threads(portal) {
		if th.Archived {
			continue
		}
		pt := pollerstest.Thread{ID: th.ID}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction)})
		}
		out = append(out, pt)
	}
	return out
}

func (h *harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.sim(a).InjectFault(hubspotsim.Fault{
		Endpoint: hubspotsim.EndpointThreads, Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n,
	})
}

func (h *harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.sim(a).Stats()
	return pollerstest.Requests{List: int(st.ThreadsCalls), Messages: int(st.MessagesCalls + st.OriginalContentCalls)}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
