package partizap_test

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
	"github.com/threadsync/threadsync/pollers/partizap"
	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// vendorID is the simulated vendor's Partizap user id.
const vendorID = 5

// harness runs the conformance suite on the Partizap simulator, one
// simulator per account, configured by cfg and read with the extra options.
type harness struct {
	cfg     partizapsim.Config
	options map[string]string

	mu   sync.Mutex
	sims map[string]*partizapsim.Server // by base URL
}

func newHarness() *harness { return newHarnessWith(partizapsim.Config{}, nil) }

func newHarnessWith(cfg partizapsim.Config, options map[string]string) *harness {
	return &harness{cfg: cfg, options: options, sims: map[string]*partizapsim.Server{}}
}

func (h *harness) Provider() string { return partizap.Name }

func (h *harness) Features() pollers.Features {
	p, err := partizap.New(pollers.Account{BaseURL: "http://127.0.0.1", Token: "x", Options: map[string]string{"user_id": "1"}}, nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}

func (h *harness) Factory() pollers.Factory { return partizap.New }

func (h *harness) sim(a pollers.Account) *partizapsim.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sims[a.BaseURL]
}

func randomSession() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "sess-" + hex.EncodeToString(b[:])
}

func (h *harness) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	sim := partizapsim.New(h.cfg)
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	token := randomSession()
	sim.AddVendor(vendorID, token)
	h.mu.Lock()
	h.sims[srv.URL] = sim
	h.mu.Unlock()
	opts := map[string]string{
		"user_id": strconv.Itoa(vendorID), "page_size": strconv.Itoa(pageSize),
		// The default rate (5/s) is for a real API; the simulator is local.
		"requests_per_second": "1000",
	}
	for k, v := range h.options {
		opts[k] = v
	}
	return pollers.Account{
		Provider: partizap.Name, ID: id, BaseURL: srv.URL, Token: token,
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

func (h *harness) AddThread(tb testing.TB, a pollers.Account, text string) string {
	sim := h.sim(a)
	id := sim.AddThread(vendorID, partizapsim.NewThread{Buyer: "Ivan"})
	sim.AddMessage(vendorID, id, partizapsim.Buyer, text, time.Time{})
	return strconv.FormatInt(id, 10)
}

func (h *harness) AddMessage(tb testing.TB, a pollers.Account, thread string, d events.Direction, text string) string {
	from := partizapsim.Buyer
	if d == events.Outbound {
		from = partizapsim.Vendor
	}
	return strconv.FormatInt(h.sim(a).AddMessage(vendorID, threadID(tb, thread), from, text, time.Time{}), 10)
}

func (h *harness) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.sim(a).Seed(vendorID, threads, perThread, time.Time{})
}

func (h *harness) Truth(tb testing.TB, a pollers.Account) []pollerstest.Thread {
	var out []pollerstest.Thread
	for _, th := range h.sim(a).Threads(vendorID) {
		pt := pollerstest.Thread{ID: strconv.FormatInt(th.ID, 10)}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: strconv.FormatInt(m.ID, 10), Direction: events.Direction(m.Direction)})
		}
		out = append(out, pt)
	}
	return out
}

func (h *harness) Fail(tb testing.TB, a pollers.Account, f pollerstest.Fault, n int) {
	h.sim(a).InjectFault(partizapsim.Fault{Endpoint: partizapsim.EndpointConversations, Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n})
}

func (h *harness) Requests(tb testing.TB, a pollers.Account) pollerstest.Requests {
	st := h.sim(a).Stats()
	return pollerstest.Requests{List: int(st.ConversationsCalls), Messages: int(st.MessagesCalls)}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}

// TestConformanceOtherShapes runs the suite against the other API shapes
// partizap.md leaves possible: ids as strings, zone-less local times, an
// offset cursor over an oldest-first list, messages oldest first at another
// path.
func TestConformanceOtherShapes(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarnessWith(partizapsim.Config{
		IDsAsStrings:  true,
		TimeLayout:    time.DateTime,
		OffsetCursor:  true,
		Order:         partizapsim.OldestFirst,
		MessagesOrder: partizapsim.OldestFirst,
		MessagesPath:  "/vendor/chats/{id}/messages",
	}, map[string]string{"messages_path": "/vendor/chats/{id}/messages", "messages_page_size": "2"}))
}
