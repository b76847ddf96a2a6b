package olx_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/olx"
	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// simAccount is the OLX user every simulated account reads.
const simAccount = "seller"

// zone is where the simulated OLX writes its zone-less times: the suite
// then checks that the client reads them in the account's timezone.
const zone = "Europe/Warsaw"

var warsaw = mustZone(zone)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "olx-token-" + hex.EncodeToString(b[:])
}

// harness runs the conformance suite on the OLX simulator, one simulator
// per account.
type harness struct {
	mu   sync.Mutex
	sims map[string]*olxsim.Server // by base URL
}

var _ pollerstest.Harness = (*harness)(nil)

func newHarness() *harness { return &harness{sims: map[string]*olxsim.Server{}} }

func (h *harness) Provider() string         { return olx.Name }
func (h *harness) Factory() pollers.Factory { return olx.New }

func (h *harness) Features() pollers.Features {
	p, err := olx.New(pollers.Account{BaseURL: "http://127.0.0.1"}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}

func (h *harness) sim(a pollers.Account) *olxsim.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sims[a.BaseURL]
}

func (h *harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	sim := olxsim.New(olxsim.Config{Location: warsaw})
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	tok := randomToken()
	sim.AddAccount(simAccount, tok)
	h.mu.Lock()
	h.sims[srv.URL] = sim
	h.mu.Unlock()
	return pollers.Account{
		Provider: olx.Name, ID: id, BaseURL: srv.URL, Token: tok,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute,
		// Every changed thread costs a message request, so the default
		// of 10 requests per second would make the suite slow, not stricter.
		Options: map[string]string{"timezone": zone, "page_size": strconv.Itoa(pageSize), "requests_per_second": "500"},
	}
}

func (h *harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	sim := h.sim(a)
	th := sim.AddThread(simAccount, olxsim.NewThread{})
	sim.AddMessage(simAccount, th, olxsim.Interlocutor, text, time.Time{})
	return th
}

func (h *harness) AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) string {
	from := olxsim.Interlocutor
	if d == events.Outbound {
		from = olxsim.Owner
	}
	return h.sim(a).AddMessage(simAccount, threadID, from, text, time.Time{})
}

func (h *harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.sim(a).Seed(simAccount, threads, perThread, time.Time{})
}

// Truth lists the threads least recently active first, so the suite's
// "first" thread is the one at the bottom of OLX's list.
func (h *harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	var out []pollerstest.Thread
	for _, th := range h.sim(a).Threads(simAccount) {
		pt := pollerstest.Thread{ID: th.ID}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction)})
		}
		out = append(out, pt)
	}
	slices.Reverse(out)
	return out
}

func (h *harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.sim(a).InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointThreads, Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n})
}

func (h *harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.sim(a).Stats()
	return pollerstest.Requests{List: int(st.Threads), Messages: int(st.Messages)}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
