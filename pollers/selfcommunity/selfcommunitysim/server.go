package selfcommunitysim

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Endpoints, as Fault.Endpoint and Stats name them. One path serves the
// snippet list and the messages of a thread; the query decides which.
const (
	EndpointSnippets = "snippets" // GET /api/v2/pm/ without thread, user or group
	EndpointThread   = "thread"   // GET /api/v2/pm/?thread= (or user=, group=)
	EndpointMessage  = "message"  // GET /api/v2/pm/{id}/
	EndpointSend     = "send"     // POST /api/v2/pm/
)

// Config configures a Server. The zero Config is a valid, unlimited server.
type Config struct {
	// RequestsPerSecond is the request rate allowed per account (DRF
	// throttles per user); above it the server answers 429 with
	// Retry-After and DRF's throttling body. Default 0: unlimited.
	RequestsPerSecond float64
	// Burst is how many requests an account may send back to back before
	// the rate applies. Default: RequestsPerSecond rounded up, at least 1.
	Burst int
	// DefaultLimit is the page size without a valid limit parameter
	// (DRF's PAGE_SIZE; undocumented). Default 20.
	DefaultLimit int
	// MaxLimit clamps larger limits (DRF's max_limit; undocumented).
	// Default 100.
	MaxLimit int
	// MessagesNewestFirst returns a thread's messages newest first; the
	// documentation does not give the order. Default false: oldest first,
	// as the documentation's example shows.
	MessagesNewestFirst bool
	// Location is the zone of the times the server writes. Default a fixed
	// +01:00, as in the documentation's examples.
	Location *time.Location
	// LinkBase, when set, replaces the scheme and host of next and previous
	// links (say "http://internal:8000"), as a community behind a proxy
	// that does not forward its host builds them. Default: the request's.
	LinkBase string
	// Now is the clock for new messages and the rate limiter, so tests can
	// drive both by hand. Default time.Now.
	Now func() time.Time
}

// Stats counts requests since New or the last ResetStats.
type Stats struct {
	// Snippets, Thread, Message and Send count authenticated requests per
	// endpoint, whatever their outcome (faults and 429s included).
	Snippets, Thread, Message, Send int64
	// Unauthorized counts requests refused with 401.
	Unauthorized int64
	// RateLimited counts 429s from the rate limiter (not injected ones).
	RateLimited int64
	// Faults counts requests answered by an injected fault.
	Faults int64
	// SnippetsListed and MessagesListed count the results returned.
	SnippetsListed, MessagesListed int64
}

// Fault is a canned answer the server gives instead of the real one (see
// sim.Fault): Endpoint is EndpointSnippets, EndpointThread,
// EndpointMessage or EndpointSend, Account an account's username. With
// Status 200 a Body is served as a success: truncated JSON, or a page
// whose next link points to another host. Without a Body it answers with a
// DRF-style {"detail": ...} error.
type Fault = sim.Fault

// Server simulates a SelfCommunity community's private-message API. Create
// it with New; it is an http.Handler, and its embedded Kit injects faults
// and counts. Accounts are the Kit's accounts by username.
type Server struct {
	*sim.Kit
	cfg Config
	loc *time.Location
	now func() time.Time
	// endpoints are the Kit's handlers: the query decides which serves.
	endpoints map[string]http.Handler
	accounts  sim.Accounts[*account]

	// mu guards the whole community: a thread may sit in two inboxes.
	mu       sync.RWMutex
	users    map[int64]*user
	byName   map[string]*user
	threads  map[int64]*thread
	pairs    map[[2]int64]*thread
	messages map[int64]*message
	userSeq  int64
	thrSeq   int64
	msgSeq   int64
	stamps   sim.Stamps // see stampLocked
}

var _ sim.Simulator = (*Server)(nil)

// account is a user who polls: a rate limiter (DRF throttles per user), an
// inbox index.
type account struct {
	user *user
	lim  *sim.Bucket // nil when unlimited
	// index holds the account's visible threads sorted by (last message
	// time, id) ascending: the snippet list read backwards, so the thread
	// that just got a message is appended rather than inserted in front.
	index sim.Index[int64, *thread]
	// pending holds the threads whose last message is the other side's,
	// for Traffic.
	pending sim.Set[*thread]
}

// New returns a Server without users.
func New(cfg Config) *Server {
	if cfg.DefaultLimit <= 0 {
		cfg.DefaultLimit = 20
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = 100
	}
	cfg.DefaultLimit = min(cfg.DefaultLimit, cfg.MaxLimit)
	s := &Server{
		cfg:      cfg,
		loc:      cfg.Location,
		now:      cfg.Now,
		accounts: sim.Accounts[*account]{Prefix: "selfcommunitysim"},
		users:    make(map[int64]*user),
		byName:   make(map[string]*user),
		threads:  make(map[int64]*thread),
		pairs:    make(map[[2]int64]*thread),
		messages: make(map[int64]*message),
		// Thread and message ids start where the documentation's examples
		// are (thread 311, message 9001), away from the user ids.
		thrSeq: 300,
		msgSeq: 9000,
		stamps: sim.Stamps{Unit: time.Microsecond},
	}
	if s.loc == nil {
		s.loc = time.FixedZone("+01:00", 3600)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{EndpointSnippets, EndpointThread, EndpointMessage, EndpointSend},
		List:      EndpointSnippets, Messages: []string{EndpointThread},
		Counters: []string{"snippets_listed", "messages_listed"},
		Error:    faultError,
		Stats:    func() any { return s.Stats() },
	})
	s.endpoints = map[string]http.Handler{}
	for e, h := range map[string]func(http.ResponseWriter, *http.Request, *account){
		EndpointSnippets: s.handleSnippets, EndpointThread: s.handleThread,
		EndpointMessage: s.handleMessage, EndpointSend: s.handleSend,
	} {
		s.endpoints[e] = sim.Endpoint(s.Kit, e, s.authenticate, s.limit, h)
	}
	return s
}

// AddAccount makes the user with this username an account that
// authenticates with token (creating the user if new) and returns the
// user's id, which is what the poller's user_id option must say. Call it
// again to give an account more tokens. It panics if the token already
// belongs to another account or an argument is empty.
func (s *Server) AddAccount(username, token string) (userID string) {
	if username == "" || token == "" {
		panic("selfcommunitysim: AddAccount needs a username and a token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userNamed(username)
	s.accounts.Add(username, token, func(int) *account {
		a := &account{user: u, index: sim.Index[int64, *thread]{Key: func(t *thread) (int64, int64) { return t.lastNs, t.id }}}
		if s.cfg.RequestsPerSecond > 0 {
			a.lim = sim.NewBucket(s.cfg.RequestsPerSecond, s.cfg.Burst)
		}
		u.acct = a
		// Threads this user already takes part in (with another account)
		// are in the new inbox too.
		for _, t := range s.threads {
			if t.side(u) >= 0 && len(t.msgs) > 0 {
				a.index.Append(t)
				s.setPending(a, t)
			}
		}
		a.index.Sort()
		return a
	}, nil)
	return strconv.FormatInt(u.id, 10)
}

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	return Stats{
		Snippets: s.Count(EndpointSnippets), Thread: s.Count(EndpointThread),
		Message: s.Count(EndpointMessage), Send: s.Count(EndpointSend),
		Unauthorized: s.Count(sim.Unauthorized), RateLimited: s.Count(sim.RateLimited), Faults: s.Count(sim.Faulted),
		SnippetsListed: s.Count("snippets_listed"), MessagesListed: s.Count("messages_listed"),
	}
}

const pmPath = "/api/v2/pm/"

// ServeHTTP serves the API relative to the handler's root.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var endpoint string
	switch {
	case p == pmPath && r.Method == http.MethodGet:
		endpoint = EndpointSnippets
		q := r.URL.Query()
		if q.Has("thread") || q.Has("user") || q.Has("group") {
			endpoint = EndpointThread
		}
	case p == pmPath && r.Method == http.MethodPost:
		endpoint = EndpointSend
	case p == pmPath:
		w.Header().Set("Allow", "GET, POST, DELETE, HEAD, OPTIONS")
		writeDetail(w, http.StatusMethodNotAllowed, `Method "`+r.Method+`" not allowed.`)
		return
	case strings.HasPrefix(p, pmPath) && strings.HasSuffix(p, "/") && isDigits(p[len(pmPath):len(p)-1]):
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET, DELETE, HEAD, OPTIONS")
			writeDetail(w, http.StatusMethodNotAllowed, `Method "`+r.Method+`" not allowed.`)
			return
		}
		endpoint = EndpointMessage
	case (p+"/" == pmPath || strings.HasPrefix(p, pmPath) && isDigits(p[len(pmPath):])) && r.Method == http.MethodGet:
		// Django's APPEND_SLASH: a GET without the trailing slash is
		// redirected, which a client that refuses redirects sees as 301.
		u := *r.URL
		u.Path += "/"
		u.RawPath = ""
		http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
		return
	default:
		writeDetail(w, http.StatusNotFound, "Not found.")
		return
	}
	s.endpoints[endpoint].ServeHTTP(w, r)
}

func (s *Server) limit(w http.ResponseWriter, c *sim.Cred[*account]) bool {
	var l sim.Limiter
	if c.Account.lim != nil {
		l = c.Account.lim
	}
	return s.Throttle(w, l, s.now(), true, func(w http.ResponseWriter, secs int) {
		writeDetail(w, http.StatusTooManyRequests, throttled(secs))
	})
}

// throttled is DRF's Throttled detail.
func throttled(secs int) string {
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	return "Request was throttled. Expected available in " + strconv.Itoa(secs) + " " + unit + "."
}

// authenticate reads "Authorization: Bearer <token>". Answers never echo
// the token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *sim.Cred[*account] {
	var c *sim.Cred[*account]
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") && tok != "" {
		c = s.accounts.Token(strings.TrimSpace(tok))
	}
	if c == nil {
		// What DRF answers with OAuth2 authentication, for a missing token
		// and for one it does not know alike.
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		writeDetail(w, http.StatusUnauthorized, "Authentication credentials were not provided.")
	}
	return c
}

// link is the absolute URL of the request with limit and offset replaced,
// the way DRF's replace_query_param builds next and previous: query keys
// sorted, offset left out when dropOffset.
func (s *Server) link(r *http.Request, limit, offset int, dropOffset bool) *string {
	q := r.URL.Query()
	q.Set("limit", strconv.Itoa(limit))
	if dropOffset {
		q.Del("offset")
	} else {
		q.Set("offset", strconv.Itoa(offset))
	}
	l := sim.Link(r, s.cfg.LinkBase, q)
	return &l
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// The sim.Simulator methods, by username.

// Register is AddAccount; a poller reads the account with the user_id
// option.
func (s *Server) Register(username, token string) map[string]string {
	return map[string]string{"user_id": s.AddAccount(username, token)}
}

// Open writes text to the account from a new member.
func (s *Server) Open(username, text string) string {
	return s.AddThread(username, NewThread{Text: text})
}

// Write adds a message by the other member (inbound) or the account's
// user (outbound).
func (s *Server) Write(username, threadID string, d events.Direction, text string) string {
	return s.AddMessage(username, threadID, sim.By(d, Other, Owner), text, time.Time{})
}

// Fill is Seed.
func (s *Server) Fill(username string, threads, perThread int) { s.Seed(username, threads, perThread) }

// Truth is the account's inbox by thread id.
func (s *Server) Truth(username string) []sim.Thread {
	return sim.Truth(s.Threads(username), func(t ThreadInfo) (string, bool, []MessageInfo) { return t.ID, false, t.Messages },
		func(m MessageInfo) (string, string, time.Time) { return m.ID, m.Direction, m.At })
}
