package miraklsim

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Config configures a Server. The zero Config is a valid, unlimited server.
type Config struct {
	// RequestsPerSecond is the request rate allowed per API key; above it
	// the server answers 429 with Retry-After. Default 0: unlimited.
	RequestsPerSecond float64
	// Burst is how many requests a key may send back to back before the
	// rate applies. Default: RequestsPerSecond rounded up, at least 1.
	Burst int
	// ReplyNeededLatest makes shop_reply_needed_since the date of the latest
	// unanswered customer or operator message instead of the first; Mirakl's
	// documentation leaves the choice open. Default false: the first.
	ReplyNeededLatest bool
	// Now is the clock for new messages and for the rate limiter, so tests
	// can drive both by hand. Default time.Now.
	Now func() time.Time
}

// Fault is a canned answer the server gives instead of the real one (see
// sim.Fault): Endpoint is "M10", "M11", "M12" or "" for any, Account a
// shop id, and without a Body it answers with a Mirakl-style JSON error.
type Fault = sim.Fault

// Stats counts requests since New or the last ResetStats.
type Stats struct {
	// M10Calls, M11Calls and M12Calls count authenticated requests per
	// endpoint, whatever their outcome (faults and 429s included).
	M10Calls, M11Calls, M12Calls int64
	// Unauthorized counts requests refused with 401 or 403.
	Unauthorized int64
	// RateLimited counts 429s from the rate limiter (not injected ones).
	RateLimited int64
	// Faults counts requests answered by an injected fault.
	Faults int64
	// ThreadsListed counts threads returned by M11.
	ThreadsListed int64
}

// Server simulates a Mirakl instance's seller inbox API. Create it with New;
// it is an http.Handler, and its embedded Kit injects faults and counts.
type Server struct {
	*sim.Kit
	cfg   Config
	now   func() time.Time
	idSeq atomic.Uint64
	shops sim.Accounts[*shop]
}

var _ sim.Simulator = (*Server)(nil)

// New returns a Server without shops.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, now: cfg.Now, shops: sim.Accounts[*shop]{Noun: "shop", Prefix: "miraklsim"}}
	if s.now == nil {
		s.now = time.Now
	}
	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{"M10", "M11", "M12"}, List: "M11", Messages: []string{"M10"},
		Counters: []string{"listed"},
		Error: func(w http.ResponseWriter, status int, _ string) {
			writeError(w, status, "injected fault: "+strconv.Itoa(status)+" "+http.StatusText(status))
		},
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
		},
		Stats: func() any { return s.Stats() },
	})
	route := func(pattern, endpoint string, h func(http.ResponseWriter, *http.Request, *shop)) {
		s.Handle(pattern, sim.Endpoint(s.Kit, endpoint, s.authenticate, s.limit, h))
	}
	route("GET /api/inbox/threads", "M11", s.handleList)
	route("GET /api/inbox/threads/{thread_id}", "M10", s.handleThread)
	route("POST /api/inbox/threads/{thread_id}/message", "M12", s.handlePost)
	return s
}

// AddShop registers a shop (if new) and an API key for it; call it again to
// give a shop more keys. It panics if the key already belongs to another
// shop or an argument is empty.
func (s *Server) AddShop(shopID, key string) {
	s.shops.Add(shopID, key, func(int) *shop { return newShop(shopID) }, sim.Buckets(s.cfg.RequestsPerSecond, s.cfg.Burst))
}

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	return Stats{
		M10Calls: s.Count("M10"), M11Calls: s.Count("M11"), M12Calls: s.Count("M12"),
		Unauthorized: s.Count(sim.Unauthorized), RateLimited: s.Count(sim.RateLimited),
		Faults: s.Count(sim.Faulted), ThreadsListed: s.Count("listed"),
	}
}

// authenticate checks the raw API key in Authorization and the optional
// shop_id parameter. Error messages never echo the key.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *sim.Cred[*shop] {
	raw := r.Header.Get("Authorization")
	var c *sim.Cred[*shop]
	msg := "invalid API key"
	switch {
	case raw == "":
		msg = "missing API key in the Authorization header"
	case strings.HasPrefix(strings.ToLower(raw), "bearer "):
		// Mirakl's shop API key goes in raw; a Bearer token is another
		// Mirakl product's auth and is refused.
		msg = "invalid API key: send the raw key, without a Bearer prefix"
	default:
		c = s.shops.Token(raw)
	}
	if c == nil {
		writeError(w, http.StatusUnauthorized, msg)
		return nil
	}
	// The real API serves a user's other shops here; in the simulator a key
	// has one shop, so any other shop_id is refused. 403 is a choice: the
	// reference does not say.
	if id := r.URL.Query().Get("shop_id"); id != "" && id != c.Key {
		writeError(w, http.StatusForbidden, "API key has no access to shop "+strconv.Quote(id))
		return nil
	}
	return c
}

func (s *Server) limit(w http.ResponseWriter, c *sim.Cred[*shop]) bool {
	return s.Throttle(w, c.Limit, s.now(), true, func(w http.ResponseWriter, _ int) {
		writeError(w, http.StatusTooManyRequests, "too many requests")
	})
}

// The sim.Simulator methods, by shop id.

// Register is AddShop; a poller reads the shop with the shop_id option.
func (s *Server) Register(shopID, key string) map[string]string {
	s.AddShop(shopID, key)
	return map[string]string{"shop_id": shopID}
}

// Open adds a thread in which the customer writes text.
func (s *Server) Open(shopID, text string) string {
	th := s.AddThread(shopID, NewThread{Customer: "Jane"})
	s.AddMessage(shopID, th, Customer, text, time.Time{})
	return th
}

// Write adds a message by the customer (inbound) or the shop (outbound).
func (s *Server) Write(shopID, threadID string, d events.Direction, text string) string {
	return s.AddMessage(shopID, threadID, sim.By(d, Customer, Shop), text, time.Time{})
}

// Fill is Seed ending now.
func (s *Server) Fill(shopID string, threads, perThread int) {
	s.Seed(shopID, threads, perThread, time.Time{})
}

// Truth is the shop's threads in the M11 order.
func (s *Server) Truth(shopID string) []sim.Thread {
	return sim.Truth(s.Threads(shopID), func(t ThreadInfo) (string, bool, []MessageInfo) { return t.ID, false, t.Messages },
		func(m MessageInfo) (string, string, time.Time) { return m.ID, m.Direction, m.At })
}

// Traffic makes the shop's inbox live (see Kit.Live) like a marketplace:
// about 20% of events are a customer opening a thread with a first
// message, 45% a customer writing in an existing thread, 35% the shop
// answering a thread that awaits its reply (nothing happens when none
// does). Messages take their times from Config.Now.
func (s *Server) Traffic(ctx context.Context, shopID string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.shops, ctx, shopID, perSecond, rnd, s.trafficStep)
}
