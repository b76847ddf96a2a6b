package selfcommunitysim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

type counters struct {
	snippets, thread, message, send, unauthorized, rateLimited, faults, snippetsListed, messagesListed atomic.Int64
}

// Server simulates a SelfCommunity community's private-message API. Create
// it with New; it is an http.Handler.
type Server struct {
	cfg   Config
	loc   *time.Location
	now   func() time.Time
	stats counters

	// mu guards the whole community: a thread may sit in two inboxes.
	mu       sync.RWMutex
	users    map[int64]*user
	byName   map[string]*user
	tokens   map[string]*account
	accounts map[string]*account // by username
	threads  map[int64]*thread
	pairs    map[[2]int64]*thread
	messages map[int64]*message
	userSeq  int64
	thrSeq   int64
	msgSeq   int64
	stamps   sim.Stamps // see stampLocked

	faults   sim.Faults[Fault]
	schedule sim.Schedule

	// onTraffic, when set before Traffic starts, runs after each Traffic
	// event: tests wait on it instead of sleeping.
	onTraffic func()
}

// account is a user who polls: a token, a rate limiter, an inbox index.
type account struct {
	user *user
	lim  *sim.Bucket // nil when unlimited
	// index holds the account's visible threads sorted by (last message
	// time, id) ascending: the snippet list read backwards, so the thread
	// that just got a message is appended rather than inserted in front.
	index []*thread
	// pending holds the threads whose last message is the other side's,
	// so Traffic can answer one in O(1).
	pending []*thread
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
		users:    make(map[int64]*user),
		byName:   make(map[string]*user),
		tokens:   make(map[string]*account),
		accounts: make(map[string]*account),
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
	a := s.accounts[username]
	if a == nil {
		a = &account{user: u}
		if s.cfg.RequestsPerSecond > 0 {
			a.lim = sim.NewBucket(s.cfg.RequestsPerSecond, s.cfg.Burst)
		}
		s.accounts[username] = a
		u.acct = a
		// Threads this user already takes part in (with another account)
		// are in the new inbox too.
		for _, t := range s.threads {
			if t.side(u) >= 0 && len(t.msgs) > 0 {
				a.index = append(a.index, t)
				s.setPending(a, t)
			}
		}
		sortIndex(a.index)
	}
	if b, ok := s.tokens[token]; ok && b != a {
		panic(fmt.Sprintf("selfcommunitysim: token already belongs to account %q", b.user.name))
	}
	s.tokens[token] = a
	return strconv.FormatInt(u.id, 10)
}

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	return Stats{
		Snippets:       s.stats.snippets.Load(),
		Thread:         s.stats.thread.Load(),
		Message:        s.stats.message.Load(),
		Send:           s.stats.send.Load(),
		Unauthorized:   s.stats.unauthorized.Load(),
		RateLimited:    s.stats.rateLimited.Load(),
		Faults:         s.stats.faults.Load(),
		SnippetsListed: s.stats.snippetsListed.Load(),
		MessagesListed: s.stats.messagesListed.Load(),
	}
}

// ResetStats sets every counter back to zero, ScheduleStats' included.
func (s *Server) ResetStats() {
	for _, c := range []*atomic.Int64{
		&s.stats.snippets, &s.stats.thread, &s.stats.message, &s.stats.send,
		&s.stats.unauthorized, &s.stats.rateLimited, &s.stats.faults,
		&s.stats.snippetsListed, &s.stats.messagesListed,
	} {
		c.Store(0)
	}
	s.schedule.ResetObserved()
}

const pmPath = "/api/v2/pm/"

// ServeHTTP serves the API relative to the handler's root.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var endpoint string
	var h func(w http.ResponseWriter, r *http.Request, a *account)
	switch {
	case p == pmPath && r.Method == http.MethodGet:
		endpoint, h = EndpointSnippets, s.handleSnippets
		q := r.URL.Query()
		if q.Has("thread") || q.Has("user") || q.Has("group") {
			endpoint, h = EndpointThread, s.handleThread
		}
	case p == pmPath && r.Method == http.MethodPost:
		endpoint, h = EndpointSend, s.handleSend
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
		endpoint, h = EndpointMessage, s.handleMessage
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
	s.serve(w, r, endpoint, h)
}

// serve runs what every call goes through, in this order: authentication
// (401), the call counter, injected faults, sustained faults, the rate
// limiter (429).
func (s *Server) serve(w http.ResponseWriter, r *http.Request, endpoint string, h func(http.ResponseWriter, *http.Request, *account)) {
	a := s.authenticate(r)
	if a == nil {
		s.stats.unauthorized.Add(1)
		// What DRF answers with OAuth2 authentication, for a missing token
		// and for one it does not know alike.
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		writeDetail(w, http.StatusUnauthorized, "Authentication credentials were not provided.")
		return
	}
	switch endpoint {
	case EndpointSnippets:
		s.stats.snippets.Add(1)
	case EndpointThread:
		s.stats.thread.Add(1)
	case EndpointMessage:
		s.stats.message.Add(1)
	default:
		s.stats.send.Add(1)
	}
	name := a.user.name
	s.schedule.Handle(w, r, name, sim.Chain{
		Fault: func(w http.ResponseWriter) bool { return s.serveFault(w, endpoint, name) },
		Error: faultError,
		Next: func(w http.ResponseWriter) {
			if a.lim != nil {
				if _, wait, ok := a.lim.Take(s.now()); !ok {
					s.stats.rateLimited.Add(1)
					secs := sim.RetrySeconds(wait)
					w.Header().Set("Retry-After", strconv.Itoa(secs))
					writeDetail(w, http.StatusTooManyRequests, throttled(secs))
					return
				}
			}
			h(w, r, a)
		},
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
func (s *Server) authenticate(r *http.Request) *account {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil
	}
	s.mu.RLock()
	a := s.tokens[strings.TrimSpace(tok)]
	s.mu.RUnlock()
	return a
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
	// RequestURI keeps a prefix that http.StripPrefix removed from
	// URL.Path, so links work under providersim's mount points.
	path := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		path = u.EscapedPath()
	}
	base := s.cfg.LinkBase
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	l := strings.TrimRight(base, "/") + path + "?" + q.Encode()
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
