package mirakl_test

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
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

const shopID = "2001"

// harness runs the conformance suite on the Mirakl simulator, one
// simulator per account.
type harness struct {
	mu   sync.Mutex
	sims map[string]*miraklsim.Server // by base URL
}

func newHarness() *harness { return &harness{sims: map[string]*miraklsim.Server{}} }

func (h *harness) Provider() string { return mirakl.Name }

func (h *harness) Features() pollers.Features {
	p, err := mirakl.New(pollers.Account{BaseURL: "http://127.0.0.1"}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}
func (h *harness) Factory() pollers.Factory { return mirakl.New }

func (h *harness) sim(a pollers.Account) *miraklsim.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sims[a.BaseURL]
}

func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "mirakl-key-" + hex.EncodeToString(b[:])
}

func (h *harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	sim := miraklsim.New(miraklsim.Config{})
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	key := randomKey()
	sim.AddShop(shopID, key)
	h.mu.Lock()
	h.sims[srv.URL] = sim
	h.mu.Unlock()
	return pollers.Account{
		Provider: mirakl.Name, ID: id, BaseURL: srv.URL, Token: key,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute,
		Options: map[string]string{"shop_id": shopID, "page_size": strconv.Itoa(pageSize)},
	}
}

func (h *harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	sim := h.sim(a)
	th := sim.AddThread(shopID, miraklsim.NewThread{Customer: "Jane"})
	sim.AddMessage(shopID, th, miraklsim.Customer, text, time.Time{})
	return th
}

func (h *harness) AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) string {
	from := miraklsim.Customer
	if d == events.Outbound {
		from = miraklsim.Shop
	}
	return h.sim(a).AddMessage(shopID, threadID, from, text, time.Time{})
}

func (h *harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.sim(a).Seed(shopID, threads, perThread, time.Time{})
}

func (h *harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	var out []pollerstest.Thread
	for _, th := range h.sim(a).Threads(shopID) {
		pt := pollerstest.Thread{ID: th.ID}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction)})
		}
		out = append(out, pt)
	}
	return out
}

func (h *harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.sim(a).InjectFault(miraklsim.Fault{Endpoint: "M11", Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n})
}

func (h *harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.sim(a).Stats()
	return pollerstest.Requests{List: int(st.M11Calls), Messages: int(st.M10Calls)}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
