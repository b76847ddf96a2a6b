package pollerstest

import (
	"maps"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Sim describes a provider's simulator to SimHarness: what the harness
// cannot learn from sim.Simulator. SimOf makes it of the provider's client
// and its simulator's sim.Registration, whose fields these are with the
// simulator typed as S.
type Sim[S sim.Simulator] struct {
	// Name is the provider and Factory its poller.
	Name    string
	Factory pollers.Factory
	// New makes the simulator of one account; RealTime, when set, one that
	// keeps the real time (see RealTimer and NewRealTimeHarness).
	New, RealTime func() S
	// Account is the simulator's key of every harness account, and Token
	// makes the credentials it hands out.
	Account string
	Token   func() string
	// Options are set on every account beside the ones sim.Register
	// returns and page_size, and win over both.
	Options map[string]string
	// Remove, Close and TokenRefusal are the registration's; the
	// scenarios that need one skip the providers without it (see Hooks).
	Remove, Close func(s S, account, threadID string)
	TokenRefusal  int
}

// SimHarness is the Harness of a provider over its simulator: the
// conformance suite (and any test that needs a live inbox) gets one
// simulator per account, driven through sim.Simulator.
type SimHarness[S sim.Simulator] struct {
	sim  Sim[S]
	sims Sims[S]
}

var _ Harness = (*SimHarness[sim.Simulator])(nil)

// NewSimHarness returns an empty harness over the simulator s describes.
func NewSimHarness[S sim.Simulator](s Sim[S]) *SimHarness[S] { return &SimHarness[S]{sim: s} }

// Desc is the description the harness was made with.
func (h *SimHarness[S]) Desc() Sim[S] { return h.sim }

func (h *SimHarness[S]) Provider() string         { return h.sim.Name }
func (h *SimHarness[S]) Factory() pollers.Factory { return h.sim.Factory }

func (h *SimHarness[S]) Features() pollers.Features {
	s := h.sim.New()
	p, err := h.sim.Factory(h.account("", "http://127.0.0.1", 10, s), nil)
	if err != nil {
		panic(err)
	}
	return p.Features()
}

// Sim returns the simulator serving the account.
func (h *SimHarness[S]) Sim(a pollers.Account) S { return h.sims.Get(a) }

func (h *SimHarness[S]) NewAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	return h.serve(tb, id, pageSize, h.sim.New())
}

func (h *SimHarness[S]) serve(tb testing.TB, id string, pageSize int, s S) pollers.Account {
	return h.account(id, h.sims.Serve(tb, s), pageSize, s)
}

// account registers the harness's account on s and returns the account
// that reads it at baseURL.
func (h *SimHarness[S]) account(id, baseURL string, pageSize int, s S) pollers.Account {
	tok := h.sim.Token()
	opts := s.Register(h.sim.Account, tok)
	opts["page_size"] = strconv.Itoa(pageSize)
	maps.Copy(opts, h.sim.Options)
	return pollers.Account{
		Provider: h.sim.Name, ID: id, BaseURL: baseURL, Token: tok,
		InitialSync: pollers.SyncFull, PollInterval: time.Minute, Options: opts,
	}
}

func (h *SimHarness[S]) AddThread(tb testing.TB, a pollers.Account, text string) string {
	return h.Sim(a).Open(h.sim.Account, text)
}

func (h *SimHarness[S]) AddMessage(tb testing.TB, a pollers.Account, threadID string, d events.Direction, text string) string {
	return h.Sim(a).Write(h.sim.Account, threadID, d, text)
}

func (h *SimHarness[S]) Seed(tb testing.TB, a pollers.Account, threads, perThread int) {
	h.Sim(a).Fill(h.sim.Account, threads, perThread)
}

func (h *SimHarness[S]) Truth(tb testing.TB, a pollers.Account) []Thread {
	return h.Sim(a).Truth(h.sim.Account)
}

func (h *SimHarness[S]) Fail(tb testing.TB, a pollers.Account, f Fault, n int) {
	s := h.Sim(a)
	s.InjectFault(sim.Fault{Endpoint: s.ListEndpoint(), Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n})
}

func (h *SimHarness[S]) FailNext(tb testing.TB, a pollers.Account, f Fault, n int) {
	h.Sim(a).InjectFault(sim.Fault{Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body, Times: n})
}

func (h *SimHarness[S]) Hooks() Hooks {
	var hk Hooks
	act := func(f func(S, string, string)) func(testing.TB, pollers.Account, string) {
		if f == nil {
			return nil
		}
		return func(_ testing.TB, a pollers.Account, threadID string) { f(h.Sim(a), h.sim.Account, threadID) }
	}
	hk.Remove, hk.Close = act(h.sim.Remove), act(h.sim.Close)
	if h.sim.TokenRefusal != 0 {
		hk.RefuseToken = func(_ testing.TB, a pollers.Account) {
			s := h.Sim(a)
			s.InjectFault(sim.Fault{Endpoint: s.ListEndpoint(), Status: h.sim.TokenRefusal})
		}
	}
	return hk
}

func (h *SimHarness[S]) Requests(tb testing.TB, a pollers.Account) Requests {
	list, messages := h.Sim(a).Requests()
	return Requests{List: int(list), Messages: int(messages)}
}

func (h *SimHarness[S]) Sustain(tb testing.TB, a pollers.Account, rules ...sim.Rule) {
	tb.Helper()
	if err := sim.CheckRules(rules...); err != nil {
		tb.Fatal(err)
	}
	h.Sim(a).SetSchedule(rules...)
}

func (h *SimHarness[S]) Observed(tb testing.TB, a pollers.Account) sim.Observed {
	return h.Sim(a).ScheduleStats(h.sim.Account)
}

// RealTimeHarness is the SimHarness of a provider whose simulators run a
// clock of their own: it is a RealTimer.
type RealTimeHarness[S sim.Simulator] struct{ *SimHarness[S] }

var _ RealTimer = RealTimeHarness[sim.Simulator]{}

// NewRealTimeHarness returns an empty harness over the simulator s
// describes, whose RealTime must be set.
func NewRealTimeHarness[S sim.Simulator](s Sim[S]) RealTimeHarness[S] {
	if s.RealTime == nil {
		panic("pollerstest: NewRealTimeHarness of " + s.Name + " without RealTime")
	}
	return RealTimeHarness[S]{NewSimHarness(s)}
}

// NewRealTimeAccount is NewAccount on a simulator that stamps events with
// the real time.
func (h RealTimeHarness[S]) NewRealTimeAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	return h.serve(tb, id, pageSize, h.sim.RealTime())
}

// Sims keeps the simulators a Harness serves, one per account, by the
// account's base URL. It is safe for concurrent use; the zero value is
// ready to use.
type Sims[S sim.Simulator] struct {
	mu   sync.Mutex
	sims map[string]S // by base URL
}

// Serve serves s on a local test server, closed when tb's test ends, and
// returns the server's base URL.
func (ss *Sims[S]) Serve(tb testing.TB, s S) (baseURL string) {
	srv := httptest.NewServer(s)
	tb.Cleanup(srv.Close)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.sims == nil {
		ss.sims = map[string]S{}
	}
	ss.sims[srv.URL] = s
	return srv.URL
}

// Get returns the simulator serving the account, or the zero S if Serve
// never returned its base URL.
func (ss *Sims[S]) Get(a pollers.Account) S {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.sims[a.BaseURL]
}
