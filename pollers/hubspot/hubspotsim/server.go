package hubspotsim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// ScopeRead is the scope the GET endpoints need.
const ScopeRead = "conversations.read"

// The endpoints, as Fault.Endpoint names them.
const (
	EndpointThreads         = "threads"
	EndpointMessages        = "messages"
	EndpointOriginalContent = "original-content"
)

// Config configures a Server. The zero Config is a valid, unlimited server.
type Config struct {
	// RequestsPerSecond sets the burst limit of each token (HubSpot's
	// per-app limit): RequestsPerSecond × Interval requests, rounded up and
	// at least 1, per rolling Interval. Above it the server answers 429
	// with policyName TEN_SECONDLY_ROLLING. Default 0: unlimited.
	RequestsPerSecond float64
	// Interval is the rolling window of the burst limit. Default 10s, as
	// HubSpot's.
	Interval time.Duration
	// DailyLimit is how many requests an account may make per day; above
	// it the server answers 429 with policyName DAILY until midnight in the
	// account's time zone (SetTimeZone, default UTC). Every authenticated
	// request counts, 429s of the burst window included. Default 0:
	// unlimited.
	DailyLimit int
	// RetryAfter makes 429s of the burst window carry Retry-After (whole
	// seconds until the window has room). HubSpot documents none, so the
	// default false sends none.
	RetryAfter bool
	// TruncateAt cuts message texts longer than this many bytes in the
	// message list (truncationStatus TRUNCATED); original-content serves
	// them whole. Default 0: never.
	TruncateAt int
	// Now is the clock of new messages, of the rate limits and of the
	// daily reset, so tests can drive them by hand. Default time.Now.
	Now func() time.Time
}

// Stats counts requests since New or the last ResetStats.
type Stats struct {
	// ThreadsCalls, MessagesCalls and OriginalContentCalls count
	// authenticated requests per endpoint, whatever their outcome (faults
	// and 429s included).
	ThreadsCalls, MessagesCalls, OriginalContentCalls int64
	// Unauthorized counts requests refused with 401 or 403.
	Unauthorized int64
	// RateLimited counts 429s of the burst window, DailyLimited those of
	// the daily limit (not injected ones).
	RateLimited, DailyLimited int64
	// Faults counts requests answered by an injected fault.
	Faults int64
	// ThreadsListed and MessagesListed count the results returned.
	ThreadsListed, MessagesListed int64
}

type counters struct {
	threads, messages, original, unauthorized, rateLimited, dailyLimited, faults, listed, msgsListed atomic.Int64
}

// Server simulates the HubSpot Conversations v3 inbox API. Create it with
// New; it is an http.Handler.
type Server struct {
	cfg   Config
	mux   *http.ServeMux
	now   func() time.Time
	stats counters

	threadSeq, msgSeq, contactSeq, corrSeq atomic.Uint64

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
	read bool    // has conversations.read
	lim  *window // nil when unlimited
}

// New returns a Server without accounts.
func New(cfg Config) *Server {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	s := &Server{
		cfg:      cfg,
		now:      cfg.Now,
		accounts: make(map[string]*account),
		tokens:   make(map[string]*token),
	}
	if s.now == nil {
		s.now = time.Now
	}
	const threads = "GET /conversations/v3/conversations/threads"
	mux := http.NewServeMux()
	mux.Handle(threads, s.endpoint(EndpointThreads, &s.stats.threads, s.handleThreads))
	mux.Handle(threads+"/{threadId}/messages", s.endpoint(EndpointMessages, &s.stats.messages, s.handleMessages))
	mux.Handle(threads+"/{threadId}/messages/{messageId}/original-content", s.endpoint(EndpointOriginalContent, &s.stats.original, s.handleOriginal))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, http.StatusNotFound, catNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux = mux
	return s
}

// ServeHTTP serves the API relative to the handler's root.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// AddAccount registers an account (a HubSpot portal, if new) and a token
// for it with the conversations.read scope; call it again to give an
// account more tokens. It panics if the token already belongs to another
// account or an argument is empty.
func (s *Server) AddAccount(portal, tok string) { s.AddToken(portal, tok, ScopeRead) }

// AddToken is AddAccount with the token's scopes given: a token without
// conversations.read gets 403 MISSING_SCOPES.
func (s *Server) AddToken(portal, tok string, scopes ...string) {
	if portal == "" || tok == "" {
		panic("hubspotsim: AddToken needs an account and a token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[portal]
	if a == nil {
		a = newAccount(portal, len(s.accounts), s.cfg.DailyLimit)
		s.accounts[portal] = a
	}
	if t, ok := s.tokens[tok]; ok {
		if t.acct != a {
			panic(fmt.Sprintf("hubspotsim: token already belongs to account %q", t.acct.portal))
		}
		return
	}
	t := &token{acct: a}
	for _, sc := range scopes {
		t.read = t.read || sc == ScopeRead
	}
	if s.cfg.RequestsPerSecond > 0 {
		t.lim = newWindow(max(1, int(math.Ceil(s.cfg.RequestsPerSecond*s.cfg.Interval.Seconds()))), s.cfg.Interval)
	}
	s.tokens[tok] = t
}

// SetTimeZone sets the account's time zone, where its daily limit resets
// at midnight. It panics on an unknown account or a nil location.
func (s *Server) SetTimeZone(portal string, loc *time.Location) {
	if loc == nil {
		panic("hubspotsim: SetTimeZone needs a location")
	}
	s.mustAccount(portal).daily.setLocation(loc)
}

// InboxID is the account's default inbox, where threads go unless
// NewThread says otherwise.
func (s *Server) InboxID(portal string) string { return s.mustAccount(portal).inbox }

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		ThreadsCalls: c.threads.Load(), MessagesCalls: c.messages.Load(), OriginalContentCalls: c.original.Load(),
		Unauthorized: c.unauthorized.Load(), RateLimited: c.rateLimited.Load(), DailyLimited: c.dailyLimited.Load(),
		Faults: c.faults.Load(), ThreadsListed: c.listed.Load(), MessagesListed: c.msgsListed.Load(),
	}
}

// ResetStats sets every counter back to zero, ScheduleStats' included.
func (s *Server) ResetStats() {
	c := &s.stats
	for _, n := range []*atomic.Int64{
		&c.threads, &c.messages, &c.original, &c.unauthorized, &c.rateLimited,
		&c.dailyLimited, &c.faults, &c.listed, &c.msgsListed,
	} {
		n.Store(0)
	}
	s.schedule.ResetObserved()
}

type accountHandler func(w http.ResponseWriter, r *http.Request, a *account)

// endpoint wraps a handler in what every call goes through, in this order:
// authentication (401), scope (403), the call counter, injected faults,
// sustained faults, the daily limit and the burst window (429, with the
// X-HubSpot-RateLimit-* headers on every answer from here on).
func (s *Server) endpoint(name string, calls *atomic.Int64, h accountHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		calls.Add(1)
		portal := tok.acct.portal
		s.schedule.Handle(w, r, portal, sim.Chain{
			Fault: func(w http.ResponseWriter) bool { return s.serveFault(w, name, portal) },
			Error: s.scheduledError,
			Next:  func(w http.ResponseWriter) { s.limit(w, r, tok, h) },
		})
	})
}

// limit runs the daily limit and the burst window, then the handler.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, tok *token, h accountHandler) {
	now := s.now()
	hdr := w.Header()
	hdr.Set("X-HubSpot-Correlation-Id", s.uuid())
	if d := tok.acct.daily; d.limit > 0 {
		remaining, ok := d.take(now)
		hdr.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(d.limit))
		hdr.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(remaining))
		if !ok {
			s.stats.dailyLimited.Add(1)
			s.writeRateLimited(w, PolicyDaily)
			return
		}
	}
	if l := tok.lim; l != nil {
		remaining, wait, ok := l.take(now)
		hdr.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(l.span.Milliseconds(), 10))
		hdr.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(l.max))
		hdr.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
		if !ok {
			s.stats.rateLimited.Add(1)
			if s.cfg.RetryAfter {
				hdr.Set("Retry-After", strconv.Itoa(sim.RetrySeconds(wait)))
			}
			s.writeRateLimited(w, PolicyBurst)
			return
		}
	}
	h(w, r, tok.acct)
}

// authenticate checks the Bearer token and its scope. Error messages never
// echo the token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*token, bool) {
	raw := r.Header.Get("Authorization")
	scheme, secret, _ := strings.Cut(raw, " ")
	var tok *token
	msg := "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
	if raw != "" {
		msg = "Authentication credentials are invalid: send a private app or OAuth access token as Authorization: Bearer <token>."
		if strings.EqualFold(scheme, "Bearer") {
			s.mu.RLock()
			tok = s.tokens[strings.TrimSpace(secret)]
			s.mu.RUnlock()
		}
	}
	if tok == nil {
		s.stats.unauthorized.Add(1)
		s.writeError(w, http.StatusUnauthorized, catAuth, msg)
		return nil, false
	}
	if !tok.read {
		s.stats.unauthorized.Add(1)
		s.writeError(w, http.StatusForbidden, catScopes,
			"This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
			errorDetail{Message: "One or more of the following scopes are required.", Context: map[string]any{"requiredScopes": []string{ScopeRead}}})
		return nil, false
	}
	return tok, true
}
