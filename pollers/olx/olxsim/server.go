package olxsim

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/events"
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

// Fault is a canned answer the server gives instead of the real one (see
// sim.Fault): Endpoint is one of the Endpoint constants, Account an
// account id, and without a Body it answers with an OLX-style JSON error.
type Fault = sim.Fault

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

// Server simulates the OLX Partner API's chat endpoints. Create it with
// New; it is an http.Handler, and its embedded Kit injects faults and
// counts.
type Server struct {
	*sim.Kit
	cfg      Config
	loc      *time.Location
	now      func() time.Time
	threadN  atomic.Int64 // last thread id handed out
	msgN     atomic.Int64 // last message id handed out
	accounts sim.Accounts[*account]
}

var _ sim.Simulator = (*Server)(nil)

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
	s := &Server{cfg: cfg, loc: cmp.Or(cfg.Location, time.UTC), now: cfg.Now, accounts: sim.Accounts[*account]{Prefix: "olxsim"}}
	if s.now == nil {
		s.now = time.Now
	}
	s.threadN.Store(firstThreadID)
	s.msgN.Store(firstMessageID)
	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{EndpointThreads, EndpointThread, EndpointMessages, EndpointMessage, EndpointSend, EndpointCommands},
		List:      EndpointThreads, Messages: []string{EndpointMessages},
		Counters: []string{"version", "content_type", "threads_listed", "messages_listed"},
		Error: func(w http.ResponseWriter, status int, _ string) {
			writeError(w, status, http.StatusText(status), "injected fault: "+strconv.Itoa(status))
		},
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "Not Found", "no such endpoint: "+r.Method+" "+r.URL.Path)
		},
		Stats: func() any { return s.Stats() },
	})
	for _, e := range []struct {
		pattern, endpoint string
		h                 func(http.ResponseWriter, *http.Request, *account)
	}{
		{"GET /api/partner/threads", EndpointThreads, s.handleThreads},
		{"GET /api/partner/threads/{thread}", EndpointThread, s.handleThread},
		{"GET /api/partner/threads/{thread}/messages", EndpointMessages, s.handleMessages},
		{"GET /api/partner/threads/{thread}/messages/{message}", EndpointMessage, s.handleMessage},
		{"POST /api/partner/threads/{thread}/messages", EndpointSend, s.handleSend},
		{"POST /api/partner/threads/{thread}/commands", EndpointCommands, s.handleCommand},
	} {
		s.Handle(e.pattern, sim.Endpoint(s.Kit, e.endpoint, s.authenticate, s.limit, e.h))
	}
	return s
}

// AddAccount registers an account (an OLX user, if new) and an access token
// for it; call it again to give an account more tokens. It panics if the
// token already belongs to another account or an argument is empty.
func (s *Server) AddAccount(accountID, accessToken string) {
	s.accounts.Add(accountID, accessToken, func(n int) *account { return newAccount(accountID, int64(n+1)) },
		sim.Buckets(s.cfg.RequestsPerSecond, s.cfg.Burst))
}

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Calls:          make(map[string]int64),
		Unauthorized:   s.Count(sim.Unauthorized),
		MissingVersion: s.Count("version"),
		GETContentType: s.Count("content_type"),
		RateLimited:    s.Count(sim.RateLimited),
		Faults:         s.Count(sim.Faulted),
		ThreadsListed:  s.Count("threads_listed"),
		MessagesListed: s.Count("messages_listed"),
	}
	for _, e := range s.Endpoints() {
		st.Calls[e] = s.Count(e)
	}
	st.Threads, st.Messages = st.Calls[EndpointThreads], st.Calls[EndpointMessages]
	return st
}

// authenticate checks, in this order, the Version header (400), that a GET
// carries no Content-Type (400) and "Authorization: Bearer <token>" (401);
// which of the header checks OLX makes first is not documented. The answer
// never echoes the token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *sim.Cred[*account] {
	if v := r.Header.Get("Version"); v != "2.0" {
		s.Add("version", 1)
		if v == "" {
			writeError(w, http.StatusBadRequest, "Missing required header", "the Version header is required")
		} else {
			writeError(w, http.StatusBadRequest, "Unsupported version", "Version must be 2.0")
		}
		return nil
	}
	if r.Method == http.MethodGet && r.Header.Get("Content-Type") != "" {
		s.Add("content_type", 1)
		if !s.cfg.AllowGETContentType {
			writeError(w, http.StatusBadRequest, "Bad Request", "GET requests must not carry a Content-Type")
			return nil
		}
	}
	raw := r.Header.Get("Authorization")
	scheme, secret, _ := strings.Cut(raw, " ")
	var c *sim.Cred[*account]
	desc := "The access token provided is invalid"
	switch {
	case raw == "":
		desc = "The access token is missing"
	case !strings.EqualFold(scheme, "Bearer"):
		desc = "The access token must be sent as a Bearer token"
	default:
		c = s.accounts.Token(strings.TrimSpace(secret))
	}
	if c == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="OLX"`)
		writeJSON(w, http.StatusUnauthorized, oauthError{Error: "invalid_token", Description: desc, HumanTitle: "Unauthorized"})
	}
	return c
}

func (s *Server) limit(w http.ResponseWriter, c *sim.Cred[*account]) bool {
	return s.Throttle(w, c.Limit, s.now(), s.cfg.RetryAfter, func(w http.ResponseWriter, _ int) {
		writeError(w, http.StatusTooManyRequests, "Too Many Requests", "request limit exceeded")
	})
}

// The sim.Simulator methods.

// Register is AddAccount; a poller reads the account's times in the
// simulator's zone.
func (s *Server) Register(accountID, token string) map[string]string {
	s.AddAccount(accountID, token)
	return map[string]string{"timezone": s.loc.String()}
}

// Open adds a thread in which the interlocutor writes text.
func (s *Server) Open(accountID, text string) string {
	th := s.AddThread(accountID, NewThread{})
	s.AddMessage(accountID, th, Interlocutor, text, time.Time{})
	return th
}

// Write adds a message by the interlocutor (inbound) or the owner
// (outbound).
func (s *Server) Write(accountID, threadID string, d events.Direction, text string) string {
	return s.AddMessage(accountID, threadID, sim.By(d, Interlocutor, Owner), text, time.Time{})
}

// Fill is Seed ending now.
func (s *Server) Fill(accountID string, threads, perThread int) {
	s.Seed(accountID, threads, perThread, time.Time{})
}

// Truth lists the threads least recently active first, so the suite's
// "first" thread is the one at the bottom of OLX's list.
func (s *Server) Truth(accountID string) []sim.Thread {
	threads := s.Threads(accountID)
	slices.Reverse(threads)
	return sim.Truth(threads, func(t ThreadInfo) (string, bool, []MessageInfo) { return t.ID, false, t.Messages },
		func(m MessageInfo) (string, string, time.Time) { return m.ID, m.Direction, m.At })
}
