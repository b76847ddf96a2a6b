package miraklsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

type counters struct {
	m10, m11, m12, unauthorized, rateLimited, faults, listed atomic.Int64
}

// Server simulates a Mirakl instance's seller inbox API. Create it with New;
// it is an http.Handler.
type Server struct {
	cfg   Config
	mux   *http.ServeMux
	idSeq atomic.Uint64
	stats counters

	mu    sync.RWMutex
	shops map[string]*shop
	keys  map[string]*apiKey

	faults   sim.Faults[Fault]
	schedule sim.Schedule
	clockNow func() time.Time

	// onTraffic, when set before Traffic starts, runs after each Traffic
	// event: tests wait on it instead of sleeping.
	onTraffic func()
}

type apiKey struct {
	shop *shop
	lim  *sim.Bucket // nil when unlimited
}

// New returns a Server without shops.
func New(cfg Config) *Server {
	s := &Server{
		cfg:      cfg,
		shops:    make(map[string]*shop),
		keys:     make(map[string]*apiKey),
		clockNow: cfg.Now,
	}
	if s.clockNow == nil {
		s.clockNow = time.Now
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/inbox/threads", s.endpoint("M11", s.handleList))
	mux.Handle("GET /api/inbox/threads/{thread_id}", s.endpoint("M10", s.handleThread))
	mux.Handle("POST /api/inbox/threads/{thread_id}/message", s.endpoint("M12", s.handlePost))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = mux
	return s
}

func (s *Server) now() time.Time { return s.clockNow() }

// ServeHTTP serves the API relative to the handler's root.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// AddShop registers a shop (if new) and an API key for it; call it again to
// give a shop more keys. It panics if the key already belongs to another
// shop or an argument is empty.
func (s *Server) AddShop(shopID, key string) {
	if shopID == "" || key == "" {
		panic("miraklsim: AddShop needs a shop id and an API key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shops[shopID]
	if sh == nil {
		sh = newShop(shopID)
		s.shops[shopID] = sh
	}
	if k, ok := s.keys[key]; ok {
		if k.shop != sh {
			panic(fmt.Sprintf("miraklsim: API key already belongs to shop %q", k.shop.id))
		}
		return
	}
	k := &apiKey{shop: sh}
	if s.cfg.RequestsPerSecond > 0 {
		k.lim = sim.NewBucket(s.cfg.RequestsPerSecond, s.cfg.Burst)
	}
	s.keys[key] = k
}

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	return Stats{
		M10Calls:      s.stats.m10.Load(),
		M11Calls:      s.stats.m11.Load(),
		M12Calls:      s.stats.m12.Load(),
		Unauthorized:  s.stats.unauthorized.Load(),
		RateLimited:   s.stats.rateLimited.Load(),
		Faults:        s.stats.faults.Load(),
		ThreadsListed: s.stats.listed.Load(),
	}
}

// ResetStats sets every counter back to zero, ScheduleStats' included.
func (s *Server) ResetStats() {
	for _, c := range []*atomic.Int64{
		&s.stats.m10, &s.stats.m11, &s.stats.m12, &s.stats.unauthorized,
		&s.stats.rateLimited, &s.stats.faults, &s.stats.listed,
	} {
		c.Store(0)
	}
	s.schedule.ResetObserved()
}

type shopHandler func(w http.ResponseWriter, r *http.Request, sh *shop)

// endpoint wraps a handler in what every Mirakl call goes through, in this
// order: authentication (401), the shop_id check (403), the call counter,
// injected faults, sustained faults, the rate limiter (429).
func (s *Server) endpoint(name string, h shopHandler) http.Handler {
	var calls *atomic.Int64
	switch name {
	case "M10":
		calls = &s.stats.m10
	case "M11":
		calls = &s.stats.m11
	default:
		calls = &s.stats.m12
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		calls.Add(1)
		id := key.shop.id
		s.schedule.Handle(w, r, id, sim.Chain{
			Fault: func(w http.ResponseWriter) bool { return s.serveFault(w, name, id) },
			Error: faultError,
			Next: func(w http.ResponseWriter) {
				if key.lim != nil {
					if _, wait, ok := key.lim.Take(s.now()); !ok {
						s.stats.rateLimited.Add(1)
						w.Header().Set("Retry-After", strconv.Itoa(sim.RetrySeconds(wait)))
						writeError(w, http.StatusTooManyRequests, "too many requests")
						return
					}
				}
				h(w, r, key.shop)
			},
		})
	})
}

// authenticate checks the raw API key in Authorization and the optional
// shop_id parameter. Error messages never echo the key.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*apiKey, bool) {
	raw := r.Header.Get("Authorization")
	var msg string
	var key *apiKey
	switch {
	case raw == "":
		msg = "missing API key in the Authorization header"
	case strings.HasPrefix(strings.ToLower(raw), "bearer "):
		// Mirakl's shop API key goes in raw; a Bearer token is another
		// Mirakl product's auth and is refused.
		msg = "invalid API key: send the raw key, without a Bearer prefix"
	default:
		s.mu.RLock()
		key = s.keys[raw]
		s.mu.RUnlock()
		if key == nil {
			msg = "invalid API key"
		}
	}
	if key == nil {
		s.stats.unauthorized.Add(1)
		writeError(w, http.StatusUnauthorized, msg)
		return nil, false
	}
	// The real API serves a user's other shops here; in the simulator a key
	// has one shop, so any other shop_id is refused. 403 is a choice: the
	// reference does not say.
	if id := r.URL.Query().Get("shop_id"); id != "" && id != key.shop.id {
		s.stats.unauthorized.Add(1)
		writeError(w, http.StatusForbidden, "API key has no access to shop "+strconv.Quote(id))
		return nil, false
	}
	return key, true
}
