package selfcommunity_test

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
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/selfcommunity"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
)

// owner is the username of every harness account's user.
const owner = "community_owner"

// harness runs the conformance suite on the SelfCommunity simulator, one
// simulator (one community) per account.
type harness struct {
	mu   sync.Mutex
	sims map[string]*selfcommunitysim.Server // by base URL
}

func newHarness() *harness { return &harness{sims: map[string]*selfcommunitysim.Server{}} }

func (h *harness) Provider() string { return selfcommunity.Name }

func (h *harness) Features() pollers.Features {
	p, err := selfcommunity.New(pollers.Account{BaseURL: "http://127.0.0.1", Options: map[string]string{"user_id": "1"}}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}

func (h *harness) Factory() pollers.Factory { return selfcommunity.New }

func (h *harness) sim(a pollers.Account) *selfcommunitysim.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sims[a.BaseURL]
}

// randomToken looks like a django-oauth-toolkit access token.
func randomToken() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return "sc" + hex.EncodeToString(b[:])
}

func (h *harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	token := randomToken()
	uid := sim.AddAccount(owner, token)
	h.mu.Lock()
	h.sims[srv.URL] = sim
	h.mu.Unlock()
	return pollers.Account{
		Provider: selfcommunity.Name, ID: id, BaseURL: srv.URL, Token: token,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute,
		// The default 10 requests/s would make the suite wait, not test more.
		Options: map[string]string{"user_id": uid, "page_size": strconv.Itoa(pageSize), "requests_per_second": "1000"},
	}
}

func (h *harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	return h.sim(a).AddThread(owner, selfcommunitysim.NewThread{Text: text})
}

func (h *harness) AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) string {
	from := selfcommunitysim.Other
	if d == events.Outbound {
		from = selfcommunitysim.Owner
	}
	return h.sim(a).AddMessage(owner, threadID, from, text, time.Time{})
}

func (h *harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.sim(a).Seed(owner, threads, perThread)
}

func (h *harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	var out []pollerstest.Thread
	for _, th := range h.sim(a).Threads(owner) {
		pt := pollerstest.Thread{ID: th.ID}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction)})
		}
		out = append(out, pt)
	}
	return out
}

func (h *harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.sim(a).InjectFault(selfcommunitysim.Fault{
		Endpoint: selfcommunitysim.EndpointSnippets, Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n,
	})
}

func (h *harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.sim(a).Stats()
	return pollerstest.Requests{List: int(st.Snippets), Messages: int(st.Thread)}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
