package hubspotsim

import (
	"cmp"
	"encoding/base64"
	"flag"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	// RequestsPerSecond × Interval (default 10s) requests per rolling Interval is each token's
	// burst limit (HubSpot's is per app), above it 429 TEN_SECONDLY_ROLLING; 0: unlimited.
	RequestsPerSecond float64
	Interval          time.Duration
	// DailyLimit is a day's requests, 429s included, before 429 DAILY until midnight; 0: unlimited.
	DailyLimit int
	RetryAfter bool // on the burst window's 429s; HubSpot documents none
	// TruncateAt cuts longer texts in the list (TRUNCATED), not in original-content; 0: never.
	TruncateAt int
	Now        func() time.Time // default time.Now
}

// Fault is a canned answer (see sim.Fault); a 429 without Body has policyName Policy, PolicyBurst by default.
type Fault = sim.Fault

// Server simulates the HubSpot Conversations v3 inbox API, by portal.
type Server struct {
	*sim.Kit
	cfg      Config
	now      func() time.Time
	accounts sim.Accounts[*account]

	threadSeq, msgSeq, contactSeq, corrSeq atomic.Uint64
}

// New returns a Server without accounts.
func New(cfg Config) *Server {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	s := &Server{cfg: cfg, now: sim.Now(cfg.Now), accounts: sim.Accounts[*account]{Prefix: "hubspotsim"}}
	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{EndpointThreads, EndpointMessages, EndpointOriginalContent},
		List:      EndpointThreads, Messages: []string{EndpointMessages, EndpointOriginalContent},
		Counters:    []string{EndpointThreads, EndpointMessages, EndpointOriginalContent, sim.Unauthorized, sim.RateLimited, "daily_limited", sim.Faulted, "listed", "messages_listed"},
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

// HarnessPortal is the HubSpot account of every pollerstest harness account.
const HarnessPortal = "24000001"

// Registration is the simulator as pollerstest and providersim use it.
var Registration = sim.Registration{
	Define: func(fs *flag.FlagSet) func(rps float64) (sim.Simulator, error) {
		daily := fs.Int("hubspot-daily-limit", 0, "HubSpot requests per account per day before 429 DAILY, reset at UTC midnight (0: unlimited)")
		return func(rps float64) (sim.Simulator, error) {
			if *daily < 0 {
				return nil, fmt.Errorf("-hubspot-daily-limit must not be negative, got %d", *daily)
			}
			// HubSpot counts per rolling 10 s: 10 × rps per window.
			return New(Config{RequestsPerSecond: rps, DailyLimit: *daily}), nil
		}
	},
	// HubSpot hands out later stamps to events of one millisecond: seeded
	// bursts would run ahead of threadsync's clock and be walked again. A
	// clock a minute behind keeps the suite's cost checks about threadsync.
	New: func() sim.Simulator {
		return New(Config{Now: func() time.Time { return time.Now().Add(-time.Minute) }})
	},
	Token: func() string { // a private-app token's shape
		k := sim.Key()
		return "pat-na1-" + k[0:8] + "-" + k[8:12] + "-" + k[12:16] + "-" + k[16:20] + "-" + k[20:32]
	},
	Account: HarnessPortal, Options: map[string]string{"requests_per_second": "1000"},
	Remove:       func(s sim.Simulator, portal, id string) { s.(*Server).SetArchived(portal, id, true) },
	Close:        func(s sim.Simulator, portal, id string) { s.(*Server).SetStatus(portal, id, StatusClosed, time.Time{}) },
	TokenRefusal: http.StatusBadRequest,
	Serve: sim.Serve{Count: "hubspot-accounts", N: 2, Help: "number of simulated HubSpot accounts (accounts portal-24000001, portal-24000002, ...)",
		First: 24_000_001, IDPrefix: "portal-",
		// The simulated accounts keep UTC, where their daily limit resets.
		Options:      map[string]string{"timezone": "UTC"},
		FaultAccount: "account", Policies: []string{PolicyBurst, PolicyDaily}},
}

// AddAccount registers a portal (if new) and a conversations.read token.
func (s *Server) AddAccount(portal, tok string) { s.AddToken(portal, tok, ScopeRead) }

// AddToken is AddAccount with scopes: without conversations.read, 403.
func (s *Server) AddToken(portal, tok string, scopes ...string) {
	var burst func() sim.Limiter
	if s.cfg.RequestsPerSecond > 0 {
		n := max(1, int(math.Ceil(s.cfg.RequestsPerSecond*s.cfg.Interval.Seconds())))
		burst = func() sim.Limiter { return &window{max: n, span: s.cfg.Interval, times: make([]int64, n)} }
	}
	s.accounts.Add(portal, tok, func(n int) *account { return newAccount(portal, n, s.cfg.DailyLimit) }, burst, scopes...)
}

// SetTimeZone sets the zone where the account's daily limit resets.
func (s *Server) SetTimeZone(portal string, loc *time.Location) {
	if loc == nil {
		panic("hubspotsim: SetTimeZone needs a location")
	}
	d := s.accounts.Must(portal).daily
	d.mu.Lock()
	d.loc = loc
	d.mu.Unlock()
}

// InboxID is the account's default inbox.
func (s *Server) InboxID(portal string) string { return s.accounts.Must(portal).inbox }

// Stats counts requests since New or ResetStats (see sim.Kit).
type Stats struct {
	ThreadsCalls, MessagesCalls, OriginalContentCalls int64
	Unauthorized, RateLimited, DailyLimited           int64
	Faults, ThreadsListed, MessagesListed             int64
}

// Stats returns the request counters.
func (s *Server) Stats() (st Stats) { s.Counts(&st); return st }

// limit runs the daily limit and the burst window, with their headers.
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

// authenticate checks the Bearer token (never echoed) and its scope.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *sim.Cred[*account] {
	var c *sim.Cred[*account]
	msg := "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
	if r.Header.Get("Authorization") != "" {
		msg = "Authentication credentials are invalid: send a private app or OAuth access token as Authorization: Bearer <token>."
		if tok, ok := sim.Bearer(r); ok {
			c = s.accounts.Token(tok)
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

// Register is AddAccount: a poller needs no option to read the account.
func (s *Server) Register(portal, token string) map[string]string {
	s.AddAccount(portal, token)
	return map[string]string{}
}

// Open adds a thread in which a visitor writes text.
func (s *Server) Open(portal, text string) string {
	return sim.Open(s, portal, s.AddThread(portal, NewThread{Visitor: "Jane"}), text)
}

// Write adds a message by the visitor (inbound) or the agent (outbound).
func (s *Server) Write(portal, threadID string, d events.Direction, text string) string {
	return s.AddMessage(portal, threadID, sim.By(d, Visitor, Agent), text, time.Time{})
}

// window is HubSpot's rolling burst limit: a ring of the times of the requests in it.
type window struct {
	mu           sync.Mutex
	max, head, n int
	span         time.Duration
	times        []int64 // ring of request times (UnixNano), oldest at head
	last         int64
}

func (w *window) Take(now time.Time) (remaining int, wait time.Duration, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := max(now.UnixNano(), w.last) // a clock that steps back adds no room
	w.last = t
	for w.n > 0 && w.times[w.head] <= t-int64(w.span) {
		w.head = (w.head + 1) % w.max
		w.n--
	}
	if w.n == w.max {
		return 0, time.Duration(w.times[w.head] + int64(w.span) - t), false
	}
	w.times[(w.head+w.n)%w.max] = t
	w.n++
	return w.max - w.n, 0, true
}

// daily is an account's daily allowance, reset at midnight in its zone.
type daily struct {
	limit int // 0: unlimited

	mu    sync.Mutex
	loc   *time.Location
	day   string // the day counted, YYYY-MM-DD in loc
	count int
}

// take counts a request and reports the allowance left, if any was.
func (d *daily) take(now time.Time) (remaining int, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if day := now.In(d.loc).Format(time.DateOnly); day != d.day {
		d.day, d.count = day, 0
	}
	if d.count >= d.limit {
		return 0, false
	}
	d.count++
	return d.limit - d.count, true
}

// Error categories, as HubSpot names them.
const (
	catValidation = "VALIDATION_ERROR"
	catAuth       = "INVALID_AUTHENTICATION"
	catScopes     = "MISSING_SCOPES"
	catNotFound   = "OBJECT_NOT_FOUND"
	catInternal   = "INTERNAL_ERROR"
)

// Rate-limit policies, as policyName says them.
const (
	PolicyBurst = "TEN_SECONDLY_ROLLING" // the rolling 10 s window (per app, here token)
	PolicyDaily = "DAILY"                // the account's daily allowance
)

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

var writeJSON = sim.JSON{
	ContentType:   "application/json;charset=utf-8",
	EncodingError: `{"status":"error","message":"encoding response","category":"INTERNAL_ERROR"}`,
}.Write

// correlationID is the response's X-HubSpot-Correlation-Id, which error bodies repeat.
func (s *Server) correlationID(w http.ResponseWriter) string {
	id := w.Header().Get("X-HubSpot-Correlation-Id")
	if id == "" {
		id = s.uuid()
		w.Header().Set("X-HubSpot-Correlation-Id", id)
	}
	return id
}

func (s *Server) writeError(w http.ResponseWriter, status int, category, msg string, details ...errorDetail) {
	writeJSON(w, status, errorBody{Status: "error", Message: msg, CorrelationID: s.correlationID(w), Category: category, Errors: details})
}

// invalid is the 400 of a bad query parameter.
func (s *Server) invalid(w http.ResponseWriter, in, msg string) {
	s.writeError(w, http.StatusBadRequest, catValidation, "Invalid input: "+msg, errorDetail{Message: msg, In: in})
}

func (s *Server) writeRateLimited(w http.ResponseWriter, policy string) {
	msg := sim.If(policy == PolicyDaily, "You have reached your daily limit.", "You have reached your "+strings.ToLower(policy)+" limit.")
	corr := s.correlationID(w)
	writeJSON(w, http.StatusTooManyRequests, rateLimitBody{Status: "error", Message: msg, ErrorType: "RATE_LIMIT", CorrelationID: corr, PolicyName: policy, RequestID: s.uuid()})
}

// faultCategories are the categories of faults' made-up error bodies.
var faultCategories = map[int]string{http.StatusBadRequest: catValidation, http.StatusUnauthorized: catAuth, http.StatusForbidden: catScopes, http.StatusNotFound: catNotFound}

// uuid is a correlation or request id, reproducible from a counter.
func (s *Server) uuid() string { return sim.UUID(s.corrSeq.Add(1)) }

// messageID is an opaque message id, unique as sim.Mix is a bijection.
func (s *Server) messageID() string { return fmt.Sprintf("%016x", sim.Mix(s.msgSeq.Add(1))) }

// faultError is a fault's body: for 429 the rate-limit body of policy.
func (s *Server) faultError(w http.ResponseWriter, status int, policy string) {
	if status != http.StatusTooManyRequests {
		s.writeError(w, status, cmp.Or(faultCategories[status], catInternal), "injected fault: "+strconv.Itoa(status)+" "+http.StatusText(status))
		return
	}
	s.writeRateLimited(w, cmp.Or(policy, PolicyBurst))
}

// Page sizes of the thread and message lists.
const (
	// DefaultLimit is the page size without limit, as HubSpot's SDKs say.
	DefaultLimit = 100
	// MaxLimit caps limit, as HubSpot's SDKs describe; its size (500) is a choice.
	MaxLimit = 500
)

type (
	// threadQuery is a parsed GET .../threads query.
	threadQuery struct {
		limit                    int
		byLatest, desc           bool  // sort=latestMessageTimestamp (else id), descending
		since                    int64 // latestMessageTimestampAfter as UnixNano; minKey when absent
		inboxes                  map[string]bool
		contact, status          string
		archived, tickets, after bool
		afterNs, afterID         int64 // the cursor's key: (latest, id) or (0, id)
	}
	// params reads query parameters, keeping the first bad one for the 400.
	params struct {
		v   url.Values
		bad *badParam
	}
)

type badParam struct{ in, msg string }

func (p *params) fail(in, msg string) {
	if p.bad == nil {
		p.bad = &badParam{in, msg}
	}
}

func (p *params) limit() int {
	s := p.v.Get("limit")
	if s == "" {
		return DefaultLimit
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		p.fail("limit", "limit must be a positive integer")
	}
	return min(n, MaxLimit)
}

func (p *params) archived() bool {
	b, err := strconv.ParseBool(p.v.Get("archived"))
	if p.v.Get("archived") != "" && err != nil {
		p.fail("archived", "archived must be true or false")
	}
	return b
}

// parseThreadQuery applies the rules of hubspot.md §2.1.
func parseThreadQuery(v url.Values) (threadQuery, *badParam) {
	p := &params{v: v}
	q := threadQuery{limit: p.limit(), since: minKey}
	if sorts := v["sort"]; len(sorts) > 0 {
		q.desc = strings.HasPrefix(sorts[0], "-")
		switch strings.TrimPrefix(sorts[0], "-") {
		case "id":
		case "latestMessageTimestamp":
			q.byLatest = true
		default:
			p.fail("sort", "sort must be id or latestMessageTimestamp, optionally prefixed with -")
		}
	}
	if s := v.Get("latestMessageTimestampAfter"); s != "" {
		t, ok := parseTime(s)
		if !ok {
			p.fail("latestMessageTimestampAfter", "latestMessageTimestampAfter must be an ISO 8601 date-time")
		}
		q.since = t.UnixNano()
	} else if q.byLatest {
		p.fail("latestMessageTimestampAfter", "latestMessageTimestampAfter is required when sorting by latestMessageTimestamp")
	}
	for _, list := range v["inboxId"] {
		for id := range strings.SplitSeq(list, ",") {
			if _, err := strconv.ParseUint(id, 10, 63); err != nil {
				p.fail("inboxId", "inboxId must be an integer")
			}
			if q.inboxes == nil {
				q.inboxes = map[string]bool{}
			}
			q.inboxes[id] = true
		}
	}
	if s := v.Get("associatedContactId"); s != "" {
		if _, err := strconv.ParseUint(s, 10, 63); err != nil {
			p.fail("associatedContactId", "associatedContactId must be an integer")
		}
		q.contact = s
		if q.inboxes != nil {
			p.fail("inboxId", "inboxId cannot be used together with associatedContactId")
		}
		if !v.Has("threadStatus") {
			p.fail("threadStatus", "threadStatus is required with associatedContactId")
		}
	}
	if q.desc && q.contact == "" {
		p.fail("sort", "descending sort is only allowed when filtering by associatedContactId")
	}
	if v.Has("threadStatus") {
		if q.status = v.Get("threadStatus"); q.status != StatusOpen && q.status != StatusClosed {
			p.fail("threadStatus", "threadStatus must be OPEN or CLOSED")
		}
	}
	q.archived = p.archived()
	for _, a := range v["association"] {
		if a != "TICKET" {
			p.fail("association", "association must be TICKET")
		}
		q.tickets = true
	}
	if s := v.Get("after"); s != "" {
		var ok bool
		if q.afterNs, q.afterID, ok = decodeThreadCursor(s, q.byLatest); !ok {
			p.fail("after", "after is not a paging cursor of this query")
		}
		q.after = true
	}
	return q, p.bad
}

// parseTime reads ISO 8601 date-times and epoch milliseconds, as HubSpot does.
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), true
	}
	return time.Time{}, false
}

// Thread cursors are base64 of the last row's key, as HubSpot's: "<id>" or "<latest>:<id>".
func threadCursor(t *thread, byLatest bool) string {
	s := sim.If(byLatest, formatTime(time.Unix(0, t.latestNs))+":"+t.idStr, t.idStr)
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func decodeThreadCursor(s string, byLatest bool) (ns, id int64, ok bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return 0, 0, false
	}
	raw := string(b)
	if byLatest {
		i := strings.LastIndexByte(raw, ':')
		if i < 0 {
			return 0, 0, false
		}
		t, err := time.Parse(time.RFC3339Nano, raw[:i])
		if err != nil {
			return 0, 0, false
		}
		ns, raw = t.UnixNano(), raw[i+1:]
	}
	id, err = strconv.ParseInt(raw, 10, 64)
	return ns, id, err == nil
}

func (q *threadQuery) match(t *thread) bool {
	return t.latestNs >= q.since && (q.inboxes == nil || q.inboxes[t.inbox]) &&
		(q.contact == "" || t.contact == q.contact) && (q.status == "" || t.status == q.status)
}

// handleThreads serves GET /conversations/v3/conversations/threads.
func (s *Server) handleThreads(w http.ResponseWriter, r *http.Request, a *account) {
	q, bad := parseThreadQuery(r.URL.Query())
	if bad != nil {
		s.invalid(w, bad.in, bad.msg)
		return
	}
	a.RLock()
	rows, more := a.page(&q)
	resp := listResponse[wireThread]{Results: sim.Map(rows, func(t *thread) wireThread { return t.wire(q.tickets) })}
	if more {
		resp.Paging = paging(r, threadCursor(rows[len(rows)-1], q.byLatest))
	}
	a.RUnlock()
	s.Add("listed", int64(len(rows)))
	writeJSON(w, http.StatusOK, resp)
}

// page selects a page of threads from the first row after latestMessageTimestampAfter and the
// cursor in the index of the sort: O(log n + limit); descending ones scan backwards.
func (a *account) page(q *threadQuery) (rows []*thread, more bool) {
	x := &a.byID[arch(q.archived)]
	lower := func(_, id int64) int { return x.Search(id, 0) }
	if q.byLatest {
		x = &a.byLatest[arch(q.archived)]
		lower = x.Search
	}
	idx := x.Items()
	if q.desc {
		end := len(idx)
		if q.after {
			end = lower(q.afterNs, q.afterID)
		}
		return sim.Scan(idx[:end], true, q.limit, q.match)
	}
	start := 0
	if q.byLatest {
		start = lower(q.since, minKey)
	}
	if q.after {
		start = max(start, lower(q.afterNs, q.afterID+1))
		if q.afterID == math.MaxInt64 {
			start = len(idx)
		}
	}
	return sim.Scan(idx[start:], false, q.limit, q.match)
}

// paging is paging.next: the cursor, and the same request with it on the host and path the client used.
func paging(r *http.Request, after string) *wirePaging {
	v := r.URL.Query()
	v.Set("after", after)
	return &wirePaging{Next: wireNext{After: after, Link: sim.Link(r, "", v)}}
}

// Message cursors are base64 of a position in the history, which only grows.
func messageCursor(pos int) string {
	return base64.StdEncoding.EncodeToString([]byte("m" + strconv.Itoa(pos)))
}

func decodeMessageCursor(s string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'm' {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[1:]))
	return n, err == nil && n >= 0
}

// handleMessages serves a thread's history, newest first unless sort=createdAt.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request, a *account) {
	p := &params{v: r.URL.Query()}
	limit, asc := p.limit(), p.v.Get("sort") == "createdAt"
	if sort := p.v.Get("sort"); sort != "" && sort != "-createdAt" && !asc {
		p.fail("sort", "sort must be createdAt or -createdAt")
	}
	archivedOnly := p.archived()
	pos, ok := decodeMessageCursor(p.v.Get("after"))
	if hasAfter := p.v.Get("after") != ""; hasAfter && !ok {
		p.fail("after", "after is not a paging cursor")
	} else if !hasAfter {
		pos = -1
	}
	if p.bad != nil {
		s.invalid(w, p.bad.in, p.bad.msg)
		return
	}
	id := r.PathValue("threadId")
	a.RLock()
	t := a.threads[id]
	if t == nil {
		a.RUnlock()
		s.writeError(w, http.StatusNotFound, catNotFound, "Thread "+strconv.Quote(id)+" not found")
		return
	}
	// The rows after the cursor's position, or before it newest first.
	lo, hi := 0, len(t.msgs)
	if asc {
		lo = min(pos, hi-1) + 1
	} else if pos >= 0 {
		hi = min(pos, hi)
	}
	if archivedOnly { // the simulator keeps no archived messages
		lo, hi = 0, 0
	}
	rows := sim.Page(t.msgs[lo:hi], 0, limit, !asc)
	resp := listResponse[*wireMessage]{Results: sim.Map(rows, func(m *message) *wireMessage { return m.wire })}
	a.RUnlock()
	if len(rows) < hi-lo {
		resp.Paging = paging(r, messageCursor(sim.If(asc, lo+len(rows)-1, hi-len(rows))))
	}
	s.Add("messages_listed", int64(len(resp.Results)))
	writeJSON(w, http.StatusOK, resp)
}

// handleOriginal serves a message's whole text in an inferred shape: text and richText.
func (s *Server) handleOriginal(w http.ResponseWriter, r *http.Request, a *account) {
	threadID, msgID := r.PathValue("threadId"), r.PathValue("messageId")
	a.RLock()
	m := a.msgs[msgID]
	a.RUnlock()
	if m == nil || m.wire.ConversationsThreadID != threadID {
		s.writeError(w, http.StatusNotFound, catNotFound, "Message "+strconv.Quote(msgID)+" not found in thread "+strconv.Quote(threadID))
		return
	}
	writeJSON(w, http.StatusOK, wireOriginal{Text: m.text, RichText: "<p>" + html.EscapeString(m.text) + "</p>"})
}

// The wire types mirror hubspot.md §3, shared between responses.

type (
	wireDelivery struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	wireActor struct {
		ActorID            string        `json:"actorId"`
		Name               string        `json:"name,omitempty"`
		DeliveryIdentifier *wireDelivery `json:"deliveryIdentifier,omitempty"`
	}
	wireClient struct {
		ClientType string `json:"clientType"`
	}
	wireStatus struct {
		StatusType string `json:"statusType"`
	}
	wireAttachment struct {
		FileID        string `json:"fileId"`
		FileUsageType string `json:"fileUsageType"`
		Name          string `json:"name"`
		Type          string `json:"type"`
		URL           string `json:"url"`
	}
	// wireMessage is an entry of a thread's history.
	wireMessage struct {
		Type                  string           `json:"type"`
		ID                    string           `json:"id"`
		ConversationsThreadID string           `json:"conversationsThreadId"`
		CreatedAt             string           `json:"createdAt"`
		UpdatedAt             string           `json:"updatedAt"`
		CreatedBy             string           `json:"createdBy"`
		Client                *wireClient      `json:"client"`
		Senders               []wireActor      `json:"senders,omitzero"`
		Recipients            []wireActor      `json:"recipients,omitzero"`
		Archived              bool             `json:"archived"`
		Text                  string           `json:"text"`
		RichText              string           `json:"richText"`
		Attachments           []wireAttachment `json:"attachments"`
		TruncationStatus      string           `json:"truncationStatus,omitempty"`
		Status                *wireStatus      `json:"status,omitempty"`
		Direction             string           `json:"direction,omitempty"`
		ChannelID             string           `json:"channelId,omitempty"`
		ChannelAccountID      string           `json:"channelAccountId,omitempty"`
	}
	wireAssociations struct {
		AssociatedTicketID string `json:"associatedTicketId"`
	}
	wireThread struct {
		ID                             string            `json:"id"`
		InboxID                        string            `json:"inboxId"`
		Status                         string            `json:"status"`
		Spam                           bool              `json:"spam"`
		Archived                       bool              `json:"archived"`
		AssociatedContactID            string            `json:"associatedContactId"`
		AssignedTo                     string            `json:"assignedTo,omitempty"`
		OriginalChannelID              string            `json:"originalChannelId"`
		OriginalChannelAccountID       string            `json:"originalChannelAccountId"`
		CreatedAt                      string            `json:"createdAt"`
		ClosedAt                       string            `json:"closedAt,omitempty"`
		LatestMessageTimestamp         string            `json:"latestMessageTimestamp,omitempty"`
		LatestMessageSentTimestamp     string            `json:"latestMessageSentTimestamp,omitempty"`
		LatestMessageReceivedTimestamp string            `json:"latestMessageReceivedTimestamp,omitempty"`
		ThreadAssociations             *wireAssociations `json:"threadAssociations,omitempty"`
	}
	wireNext struct {
		After string `json:"after"`
		Link  string `json:"link"`
	}
	wirePaging struct {
		Next wireNext `json:"next"`
	}
	// listResponse is HubSpot's v3 collection envelope.
	listResponse[T any] struct {
		Results []T         `json:"results"`
		Paging  *wirePaging `json:"paging,omitempty"`
	}
	wireOriginal struct {
		Text     string `json:"text"`
		RichText string `json:"richText"`
	}
	// errorBody is HubSpot's error shape (hubspot.md §7).
	errorBody struct {
		Status        string        `json:"status"`
		Message       string        `json:"message"`
		CorrelationID string        `json:"correlationId"`
		Category      string        `json:"category"`
		Errors        []errorDetail `json:"errors,omitempty"`
	}
	errorDetail struct {
		Message string         `json:"message"`
		In      string         `json:"in,omitempty"`
		Context map[string]any `json:"context,omitempty"`
	}
	// rateLimitBody is the 429 body (hubspot.md §6), in the documented order.
	rateLimitBody struct {
		Status        string `json:"status"`
		Message       string `json:"message"`
		ErrorType     string `json:"errorType"`
		CorrelationID string `json:"correlationId"`
		PolicyName    string `json:"policyName"`
		RequestID     string `json:"requestId"`
	}
)
