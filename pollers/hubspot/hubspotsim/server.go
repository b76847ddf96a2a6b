package hubspotsim

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/events"
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

// Fault is a canned answer the server gives instead of the real one (see
// sim.Fault): Endpoint is EndpointThreads, EndpointMessages,
// EndpointOriginalContent or "" for any, Account a portal, and without a
// Body it answers with HubSpot's JSON error body for the status; for 429
// the rate-limit body with policyName Policy, PolicyBurst (the default) or
// PolicyDaily.
type Fault = sim.Fault

// Server simulates the HubSpot Conversations v3 inbox API. Create it with
// New; it is an http.Handler, and its embedded Kit injects faults and
// counts. Accounts are the Kit's accounts by portal.
type Server struct {
	*sim.Kit
	cfg      Config
	now      func() time.Time
	accounts sim.Accounts[*account]

	threadSeq, msgSeq, contactSeq, corrSeq atomic.Uint64
}

var _ sim.Simulator = (*Server)(nil)

// New returns a Server without accounts.
func New(cfg Config) *Server {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	s := &Server{cfg: cfg, now: cfg.Now, accounts: sim.Accounts[*account]{Prefix: "hubspotsim"}}
	if s.now == nil {
		s.now = time.Now
	}
	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{EndpointThreads, EndpointMessages, EndpointOriginalContent},
		List:      EndpointThreads, Messages: []string{EndpointMessages, EndpointOriginalContent},
		Counters:    []string{"daily_limited", "listed", "messages_listed"},
		ContentType: "application/json;charset=utf-8",
		Error:       s.faultError,
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, http.StatusNotFound, catNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
		},
		Stats: func() any { return s.Stats() },
	})
	route := func(pattern, endpoint string, h func(http.ResponseWriter, *http.Request, *account)) {
		s.Handle("GET /conversations/v3/conversations/threads"+pattern, sim.Endpoint(s.Kit, endpoint, s.authenticate, s.limit, h))
	}
	route("", EndpointThreads, s.handleThreads)
	route("/{threadId}/messages", EndpointMessages, s.handleMessages)
	route("/{threadId}/messages/{messageId}/original-content", EndpointOriginalContent, s.handleOriginal)
	return s
}

// AddAccount registers an account (a HubSpot portal, if new) and a token
// for it with the conversations.read scope; call it again to give an
// account more tokens. It panics if the token already belongs to another
// account or an argument is empty.
func (s *Server) AddAccount(portal, tok string) { s.AddToken(portal, tok, ScopeRead) }

// AddToken is AddAccount with the token's scopes given: a token without
// conversations.read gets 403 MISSING_SCOPES.
func (s *Server) AddToken(portal, tok string, scopes ...string) {
	var burst func() sim.Limiter
	if s.cfg.RequestsPerSecond > 0 {
		n := max(1, int(math.Ceil(s.cfg.RequestsPerSecond*s.cfg.Interval.Seconds())))
		burst = func() sim.Limiter { return newWindow(n, s.cfg.Interval) }
	}
	s.accounts.Add(portal, tok, func(n int) *account { return newAccount(portal, n, s.cfg.DailyLimit) }, burst, scopes...)
}

// SetTimeZone sets the account's time zone, where its daily limit resets
// at midnight. It panics on an unknown account or a nil location.
func (s *Server) SetTimeZone(portal string, loc *time.Location) {
	if loc == nil {
		panic("hubspotsim: SetTimeZone needs a location")
	}
	s.accounts.Must(portal).daily.setLocation(loc)
}

// InboxID is the account's default inbox, where threads go unless
// NewThread says otherwise.
func (s *Server) InboxID(portal string) string { return s.accounts.Must(portal).inbox }

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	return Stats{
		ThreadsCalls: s.Count(EndpointThreads), MessagesCalls: s.Count(EndpointMessages), OriginalContentCalls: s.Count(EndpointOriginalContent),
		Unauthorized: s.Count(sim.Unauthorized), RateLimited: s.Count(sim.RateLimited), DailyLimited: s.Count("daily_limited"),
		Faults: s.Count(sim.Faulted), ThreadsListed: s.Count("listed"), MessagesListed: s.Count("messages_listed"),
	}
}

// limit runs the daily limit and the burst window, with the
// X-HubSpot-RateLimit-* headers on every answer from here on.
func (s *Server) limit(w http.ResponseWriter, c *sim.Cred[*account]) bool {
	now := s.now()
	hdr := w.Header()
	hdr.Set("X-HubSpot-Correlation-Id", s.uuid())
	if d := c.Account.daily; d.limit > 0 {
		remaining, ok := d.take(now)
		hdr.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(d.limit))
		hdr.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(remaining))
		if !ok {
			s.Add("daily_limited", 1)
			s.writeRateLimited(w, PolicyDaily)
			return false
		}
	}
	if l, ok := c.Limit.(*window); ok {
		remaining, wait, ok := l.Take(now)
		hdr.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(l.span.Milliseconds(), 10))
		hdr.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(l.max))
		hdr.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
		if !ok {
			s.Add(sim.RateLimited, 1)
			if s.cfg.RetryAfter {
				hdr.Set("Retry-After", strconv.Itoa(sim.RetrySeconds(wait)))
			}
			s.writeRateLimited(w, PolicyBurst)
			return false
		}
	}
	return true
}

// authenticate checks the Bearer token and its scope. Error messages never
// echo the token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *sim.Cred[*account] {
	raw := r.Header.Get("Authorization")
	scheme, secret, _ := strings.Cut(raw, " ")
	var c *sim.Cred[*account]
	msg := "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
	if raw != "" {
		msg = "Authentication credentials are invalid: send a private app or OAuth access token as Authorization: Bearer <token>."
		if strings.EqualFold(scheme, "Bearer") {
			c = s.accounts.Token(strings.TrimSpace(secret))
		}
	}
	if c == nil {
		s.writeError(w, http.StatusUnauthorized, catAuth, msg)
		return nil
	}
	if !slices.Contains(c.Scopes, ScopeRead) {
		s.writeError(w, http.StatusForbidden, catScopes,
			"This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
			errorDetail{Message: "One or more of the following scopes are required.", Context: map[string]any{"requiredScopes": []string{ScopeRead}}})
		return nil
	}
	return c
}

// The sim.Simulator methods, by portal.

// Register is AddAccount: a poller needs no option to read the account.
func (s *Server) Register(portal, token string) map[string]string {
	s.AddAccount(portal, token)
	return map[string]string{}
}

// Open adds a thread in which a visitor writes text.
func (s *Server) Open(portal, text string) string {
	th := s.AddThread(portal, NewThread{Visitor: "Jane"})
	s.AddMessage(portal, th, Visitor, text, time.Time{})
	return th
}

// Write adds a message by the visitor (inbound) or the agent (outbound).
func (s *Server) Write(portal, threadID string, d events.Direction, text string) string {
	return s.AddMessage(portal, threadID, sim.By(d, Visitor, Agent), text, time.Time{})
}

// Fill is Seed ending now.
func (s *Server) Fill(portal string, threads, perThread int) {
	s.Seed(portal, threads, perThread, time.Time{})
}

// Truth is what the account reads: archived threads are not listed without
// include_archived, and only MESSAGE entries are messages. A thread's
// Closed is its status now: the simulator keeps no history of closings.
func (s *Server) Truth(portal string) []sim.Thread {
	threads := slices.DeleteFunc(s.Threads(portal), func(t ThreadInfo) bool { return t.Archived })
	return sim.Truth(threads, func(t ThreadInfo) (string, bool, []MessageInfo) { return t.ID, t.Status == StatusClosed, t.Messages },
		func(m MessageInfo) (string, string, time.Time) { return m.ID, m.Direction, m.At })
}
