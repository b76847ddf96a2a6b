package olxsim

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

// Config configures a Server. The zero Config is a valid, unlimited server
// writing UTC times.
type Config struct {
	// RequestsPerSecond is the request rate allowed per access token; above
	// it the server answers 429. Default 0: unlimited.
	RequestsPerSecond float64
	// Burst is how many requests a token may send back to back before the
	// rate applies. Default: RequestsPerSecond rounded up, at least 1.
	Burst int
	// RetryAfter adds a Retry-After header (whole seconds) to the rate
	// limiter's 429s. OLX does not document one, so by default there is
	// none and clients must back off on their own.
	RetryAfter bool
	// Location is the zone of the zone-less times the server writes.
	// Default UTC; OLX most likely writes the site's local time.
	Location *time.Location
	// BareArray answers lists as a bare JSON array, as OLX's reference
	// shows, instead of the {"data": [...]} envelope the API answers in
	// practice; single objects then come without {"data": ...} too.
	BareArray bool
	// OmitAdvertID leaves advert_id out of GET /threads items, as some
	// accounts see it (GET /threads/{id} still has it).
	OmitAdvertID bool
	// AllowGETContentType accepts GET requests that carry a Content-Type.
	// Default false: they get 400, as OLX answers a GET with
	// "Content-Type: application/json" (any Content-Type is refused here).
	AllowGETContentType bool
	// OffsetBase is the offset of a list's first element: 0 (default) or 1.
	OffsetBase int
	// MessagesNewestFirst lists a thread's messages newest first instead
	// of oldest first; OLX does not document the order.
	MessagesNewestFirst bool
	// DefaultLimit and MaxLimit bound list pages: limit defaults to
	// DefaultLimit (50) and above MaxLimit (1000) is refused with 400.
	// OLX documents neither.
	DefaultLimit, MaxLimit int
	// Now is the clock for new messages and for the rate limiter, so tests
	// can drive both by hand. Default time.Now.
	Now func() time.Time
}

// Endpoints, as Fault.Endpoint and Stats name them.
const (
	EndpointThreads  = "threads"  // GET /threads
	EndpointThread   = "thread"   // GET /threads/{id}
	EndpointMessages = "messages" // GET /threads/{id}/messages
	EndpointMessage  = "message"  // GET /threads/{id}/messages/{msg}
	EndpointSend     = "send"     // POST /threads/{id}/messages
	EndpointCommands = "commands" // POST /threads/{id}/commands
)

// Stats counts requests since New or the last ResetStats.
type Stats struct {
	// Calls counts authenticated requests per endpoint (EndpointThreads,
	// ...), whatever their outcome (faults and 429s included).
	Calls map[string]int64
	// Threads and Messages are Calls[EndpointThreads] and
	// Calls[EndpointMessages], the two endpoints a poller uses.
	Threads, Messages int64
	// Unauthorized counts requests refused with 401.
	Unauthorized int64
	// MissingVersion counts requests refused for a missing or wrong
	// Version header.
	MissingVersion int64
	// GETContentType counts GET requests that carried a Content-Type,
	// refused or not (see Config.AllowGETContentType).
	GETContentType int64
	// RateLimited counts 429s from the rate limiter (not injected ones).
	RateLimited int64
	// Faults counts requests answered by an injected fault.
	Faults int64
	// ThreadsListed and MessagesListed count items returned by the two
	// list endpoints.
	ThreadsListed, MessagesListed int64
}

var endpoints = []string{EndpointThreads, EndpointThread, EndpointMessages, EndpointMessage, EndpointSend, EndpointCommands}

type counters struct {
	calls                                           map[string]*atomic.Int64 // fixed keys: endpoints
	unauthorized, version, contentType, rateLimited atomic.Int64
	faults, threadsListed, messagesListed           atomic.Int64
}

// Server simulates the OLX Partner API's chat endpoints. Create it with
// New; it is an http.Handler.
type Server struct {
	cfg     Config
	loc     *time.Location
	mux     *http.ServeMux
	stats   counters
	now     func() time.Time
	threadN atomic.Int64 // last thread id handed out
	msgN    atomic.Int64 // last message id handed out

	mu       sync.RWMutex
	accounts map[string]*account
	tokens   map[string]*token

	faults   sim.Faults[Fault]
	schedule sim.Schedule

	// onTraffic, when set before Traffic starts, runs after each Traffic
	// event: tests wait on it instead of sleeping.
	onTraffic func()
}

type token struct {
	acct *account
	lim  *sim.Bucket // nil when unlimited
}

// First ids: OLX ids are plain growing integers; distinct ranges make a
// thread id easy to tell from a message id in logs.
const (
	firstThreadID  = 90000
	firstMessageID = 700000
)

// New returns a Server without accounts. It panics on an OffsetBase other
// than 0 or 1.
func New(cfg Config) *Server {
	if cfg.OffsetBase != 0 && cfg.OffsetBase != 1 {
		panic("olxsim: Config.OffsetBase must be 0 or 1")
	}
	if cfg.DefaultLimit <= 0 {
		cfg.DefaultLimit = 50
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = 1000
	}
	s := &Server{
		cfg:      cfg,
		loc:      cfg.Location,
		now:      cfg.Now,
		accounts: make(map[string]*account),
		tokens:   make(map[string]*token),
	}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.threadN.Store(firstThreadID)
	s.msgN.Store(firstMessageID)
	s.stats.calls = make(map[string]*atomic.Int64, len(endpoints))
	for _, e := range endpoints {
		s.stats.calls[e] = new(atomic.Int64)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/partner/threads", s.endpoint(EndpointThreads, s.handleThreads))
	mux.Handle("GET /api/partner/threads/{thread}", s.endpoint(EndpointThread, s.handleThread))
	mux.Handle("GET /api/partner/threads/{thread}/messages", s.endpoint(EndpointMessages, s.handleMessages))
	mux.Handle("GET /api/partner/threads/{thread}/messages/{message}", s.endpoint(EndpointMessage, s.handleMessage))
	mux.Handle("POST /api/partner/threads/{thread}/messages", s.endpoint(EndpointSend, s.handleSend))
	mux.Handle("POST /api/partner/threads/{thread}/commands", s.endpoint(EndpointCommands, s.handleCommand))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = mux
	return s
}

// ServeHTTP serves the API relative to the handler's root.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// AddAccount registers an account (an OLX user, if new) and an access token
// for it; call it again to give an account more tokens. It panics if the
// token already belongs to another account or an argument is empty.
func (s *Server) AddAccount(accountID, accessToken string) {
	if accountID == "" || accessToken == "" {
		panic("olxsim: AddAccount needs an account id and an access token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	if a == nil {
		a = newAccount(accountID, int64(len(s.accounts)+1))
		s.accounts[accountID] = a
	}
	if t, ok := s.tokens[accessToken]; ok {
		if t.acct != a {
			panic(fmt.Sprintf("olxsim: access token already belongs to account %q", t.acct.id))
		}
		return
	}
	t := &token{acct: a}
	if s.cfg.RequestsPerSecond > 0 {
		t.lim = sim.NewBucket(s.cfg.RequestsPerSecond, s.cfg.Burst)
	}
	s.tokens[accessToken] = t
}

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Calls:          make(map[string]int64, len(endpoints)),
		Unauthorized:   s.stats.unauthorized.Load(),
		MissingVersion: s.stats.version.Load(),
		GETContentType: s.stats.contentType.Load(),
		RateLimited:    s.stats.rateLimited.Load(),
		Faults:         s.stats.faults.Load(),
		ThreadsListed:  s.stats.threadsListed.Load(),
		MessagesListed: s.stats.messagesListed.Load(),
	}
	for e, c := range s.stats.calls {
		st.Calls[e] = c.Load()
	}
	st.Threads, st.Messages = st.Calls[EndpointThreads], st.Calls[EndpointMessages]
	return st
}

// ResetStats sets every counter back to zero, ScheduleStats' included.
func (s *Server) ResetStats() {
	for _, c := range s.stats.calls {
		c.Store(0)
	}
	for _, c := range []*atomic.Int64{
		&s.stats.unauthorized, &s.stats.version, &s.stats.contentType, &s.stats.rateLimited,
		&s.stats.faults, &s.stats.threadsListed, &s.stats.messagesListed,
	} {
		c.Store(0)
	}
	s.schedule.ResetObserved()
}

type accountHandler func(w http.ResponseWriter, r *http.Request, a *account)

// endpoint wraps a handler in what every OLX call goes through, in this
// order: the Version header (400), no Content-Type on GET (400), the bearer
// token (401), the call counter, injected faults, sustained faults, the
// rate limiter (429). Which of the header checks OLX makes first is not
// documented.
func (s *Server) endpoint(name string, h accountHandler) http.Handler {
	calls := s.stats.calls[name]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("Version"); v != "2.0" {
			s.stats.version.Add(1)
			if v == "" {
				writeError(w, http.StatusBadRequest, "Missing required header", "the Version header is required")
			} else {
				writeError(w, http.StatusBadRequest, "Unsupported version", "Version must be 2.0")
			}
			return
		}
		if r.Method == http.MethodGet && r.Header.Get("Content-Type") != "" {
			s.stats.contentType.Add(1)
			if !s.cfg.AllowGETContentType {
				writeError(w, http.StatusBadRequest, "Bad Request", "GET requests must not carry a Content-Type")
				return
			}
		}
		tok, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		calls.Add(1)
		id := tok.acct.id
		s.schedule.Handle(w, r, id, sim.Chain{
			Fault: func(w http.ResponseWriter) bool { return s.serveFault(w, name, id) },
			Error: faultError,
			Next: func(w http.ResponseWriter) {
				if tok.lim != nil {
					if _, wait, ok := tok.lim.Take(s.now()); !ok {
						s.stats.rateLimited.Add(1)
						if s.cfg.RetryAfter {
							w.Header().Set("Retry-After", strconv.Itoa(sim.RetrySeconds(wait)))
						}
						writeError(w, http.StatusTooManyRequests, "Too Many Requests", "request limit exceeded")
						return
					}
				}
				h(w, r, tok.acct)
			},
		})
	})
}

// authenticate checks "Authorization: Bearer <token>". The answer never
// echoes the token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*token, bool) {
	raw := r.Header.Get("Authorization")
	scheme, secret, _ := strings.Cut(raw, " ")
	var tok *token
	desc := "The access token provided is invalid"
	switch {
	case raw == "":
		desc = "The access token is missing"
	case !strings.EqualFold(scheme, "Bearer"):
		desc = "The access token must be sent as a Bearer token"
	default:
		s.mu.RLock()
		tok = s.tokens[strings.TrimSpace(secret)]
		s.mu.RUnlock()
	}
	if tok == nil {
		s.stats.unauthorized.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="OLX"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{Error: "invalid_token", Description: desc, HumanTitle: "Unauthorized"})
		return nil, false
	}
	return tok, true
}
