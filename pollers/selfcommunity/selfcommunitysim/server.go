package selfcommunitysim

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Endpoints, as Fault.Endpoint and Stats name them.
const (
	EndpointSnippets = "snippets" // GET /api/v2/pm/ without thread, user or group
	EndpointThread   = "thread"   // GET /api/v2/pm/?thread= (or user=, group=)
	EndpointMessage  = "message"  // GET /api/v2/pm/{id}/
	EndpointSend     = "send"     // POST /api/v2/pm/
)

// Config configures a Server. The zero Config is a valid, unlimited server.
type Config struct {
	// RequestsPerSecond (0: unlimited) and Burst limit each user, as DRF throttles; above, 429.
	RequestsPerSecond float64
	Burst             int
	// DefaultLimit (20) and MaxLimit (100, clamping) are DRF's PAGE_SIZE and max_limit, undocumented.
	DefaultLimit, MaxLimit int
	MessagesNewestFirst    bool           // the documentation's example is oldest first
	Location               *time.Location // default +01:00, as the documentation's examples
	// LinkBase is next and previous's scheme and host, as behind a proxy that hides its host.
	LinkBase string
	Now      func() time.Time // default time.Now
}

// Fault is a canned answer (see sim.Fault), Account a username.
type Fault = sim.Fault

// Server simulates a SelfCommunity community's private messages, by username.
type Server struct {
	*sim.Kit
	cfg       Config
	loc       *time.Location
	now       func() time.Time
	endpoints map[string]http.Handler // the query picks one
	accounts  sim.Accounts[*account]

	// mu guards the whole community: a thread may sit in two inboxes.
	mu                      sync.RWMutex
	users                   map[int64]*user
	byName                  map[string]*user
	threads                 map[int64]*thread
	pairs                   map[[2]int64]*thread
	messages                map[int64]*message
	userSeq, thrSeq, msgSeq int64
	stamps                  sim.Stamps
}

// account is a user who polls, with the rate limit DRF keeps per user.
type account struct {
	user *user
	lim  sim.Limiter // nil when unlimited
	// index is the snippet list by (last message, id), read backwards.
	index   sim.Index[int64, *thread]
	pending sim.Set[*thread] // the other side wrote last
}

// New returns a Server without users.
func New(cfg Config) *Server {
	cfg.MaxLimit = cmp.Or(max(cfg.MaxLimit, 0), 100)
	cfg.DefaultLimit = min(cmp.Or(max(cfg.DefaultLimit, 0), 20), cfg.MaxLimit)
	s := &Server{
		cfg: cfg, loc: cmp.Or(cfg.Location, time.FixedZone("+01:00", 3600)), now: sim.Now(cfg.Now), accounts: sim.Accounts[*account]{Prefix: "selfcommunitysim"},
		users: make(map[int64]*user), byName: make(map[string]*user), threads: make(map[int64]*thread),
		pairs: make(map[[2]int64]*thread), messages: make(map[int64]*message),
		// Where the documentation's examples are (thread 311, message 9001).
		thrSeq: 300, msgSeq: 9000,
		stamps: sim.Stamps{Unit: time.Microsecond, Coarse: true},
	}
	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{EndpointSnippets, EndpointThread, EndpointMessage, EndpointSend},
		List:      EndpointSnippets, Messages: []string{EndpointThread},
		Counters: []string{EndpointSnippets, EndpointThread, EndpointMessage, EndpointSend, sim.Unauthorized, sim.RateLimited, sim.Faulted, "snippets_listed", "messages_listed"},
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

// HarnessOwner is the username of every pollerstest harness account.
const HarnessOwner = "community_owner"

// Registration is the simulator as pollerstest and providersim use it.
var Registration = sim.Registration{
	Define: sim.Plain(func(rps float64) sim.Simulator { return New(Config{RequestsPerSecond: rps}) }),
	// 26 letters and digits: an OAuth token's shape, not a hex key's.
	Token:   rand.Text,
	Account: HarnessOwner, Options: map[string]string{"requests_per_second": "1000"},
	Remove:       func(s sim.Simulator, owner, threadID string) { s.(*Server).HideThread(owner, threadID) },
	TokenRefusal: http.StatusNotFound,
	Serve: sim.Serve{Count: "selfcommunity-accounts", N: 2,
		Help:  "number of SelfCommunity users read by threadsync, in one simulated community (accounts owner-1, owner-2, ...)",
		First: 1, KeyPrefix: "owner_", IDPrefix: "owner-", FaultAccount: "account",
		Then: func(s sim.Simulator, keys []string) {
			if len(keys) >= 2 {
				// The thread shows in both inboxes, inbound on one side and outbound on the other.
				s.(*Server).AddThread(keys[0], NewThread{With: keys[1], Text: "Can you take the meetup questions this week?"})
			}
		}},
}

// AddAccount makes the user an account of token and returns its id, the user_id option.
func (s *Server) AddAccount(username, token string) (userID string) {
	if username == "" || token == "" {
		panic("selfcommunitysim: AddAccount needs a username and a token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userNamed(username, "", time.Time{})
	s.accounts.Add(username, token, func(int) *account {
		a := &account{user: u, index: sim.Index[int64, *thread]{Key: func(t *thread) (int64, int64) { return t.lastNs, t.id }}}
		if s.cfg.RequestsPerSecond > 0 {
			a.lim = sim.NewBucket(s.cfg.RequestsPerSecond, s.cfg.Burst)
		}
		u.acct = a
		// The user's threads with other accounts are in the new inbox too.
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

// Stats counts requests since New or ResetStats (see sim.Kit).
type Stats struct {
	Snippets, Thread, Message, Send   int64
	Unauthorized, RateLimited, Faults int64
	SnippetsListed, MessagesListed    int64
}

// Stats returns the request counters.
func (s *Server) Stats() (st Stats) { s.Counts(&st); return st }

const pmPath = "/api/v2/pm/"

// ServeHTTP picks the endpoint: one path serves snippets and threads.
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
	case p == pmPath || strings.HasPrefix(p, pmPath) && digits.MatchString(strings.TrimSuffix(p[len(pmPath):], "/")) && strings.HasSuffix(p, "/"):
		if r.Method != http.MethodGet || p == pmPath {
			allow := sim.If(p == pmPath, "GET, POST, DELETE, HEAD, OPTIONS", "GET, DELETE, HEAD, OPTIONS")
			w.Header().Set("Allow", allow)
			writeDetail(w, http.StatusMethodNotAllowed, `Method "`+r.Method+`" not allowed.`)
			return
		}
		endpoint = EndpointMessage
	case (p+"/" == pmPath || strings.HasPrefix(p, pmPath) && digits.MatchString(p[len(pmPath):])) && r.Method == http.MethodGet:
		// Django's APPEND_SLASH, which a client refusing redirects sees.
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
	return s.Throttle(w, c.Account.lim, s.now(), true, func(w http.ResponseWriter, secs int) {
		writeDetail(w, http.StatusTooManyRequests, throttled(secs))
	})
}

// throttled is DRF's Throttled detail.
func throttled(secs int) string {
	unit := sim.If(secs == 1, "second", "seconds")
	return "Request was throttled. Expected available in " + strconv.Itoa(secs) + " " + unit + "."
}

// authenticate reads the Bearer token, never echoed.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *sim.Cred[*account] {
	var c *sim.Cred[*account]
	if tok, ok := sim.Bearer(r); ok {
		c = s.accounts.Token(tok)
	}
	if c == nil {
		// DRF's OAuth2 answer, to a missing token and an unknown one alike.
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		writeDetail(w, http.StatusUnauthorized, "Authentication credentials were not provided.")
	}
	return c
}

// link is next or previous as DRF's replace_query_param builds them: the first page has no offset.
func (s *Server) link(r *http.Request, limit, offset int) *string {
	q := r.URL.Query()
	q.Set("limit", strconv.Itoa(limit))
	if offset <= 0 {
		q.Del("offset")
	} else {
		q.Set("offset", strconv.Itoa(offset))
	}
	l := sim.Link(r, s.cfg.LinkBase, q)
	return &l
}

var digits = regexp.MustCompile(`^[0-9]+$`)

// Register is AddAccount; a poller reads the account by user_id.
func (s *Server) Register(username, token string) map[string]string {
	return map[string]string{"user_id": s.AddAccount(username, token)}
}

// Open writes text to the account from a new member.
func (s *Server) Open(username, text string) string {
	return s.AddThread(username, NewThread{Text: text})
}

// Write adds a message by the other member (inbound) or the account's user (outbound).
func (s *Server) Write(username, threadID string, d events.Direction, text string) string {
	return s.AddMessage(username, threadID, sim.By(d, Other, Owner), text, time.Time{})
}

// headlineRunes bounds a snippet's preview; the real one is undocumented.
const headlineRunes = 100

func headline(text string) string {
	n := 0
	for i := range text {
		if n == headlineRunes {
			return text[:i] + "…"
		}
		n++
	}
	return text
}

// formatTime writes Python's isoformat in the server's zone, Z for UTC.
func (s *Server) formatTime(t time.Time) string {
	layout := sim.If(t.Nanosecond()/1000 == 0, "2006-01-02T15:04:05-07:00", "2006-01-02T15:04:05.000000-07:00")
	out := t.In(s.loc).Format(layout)
	if v, ok := strings.CutSuffix(out, "+00:00"); ok {
		out = v + "Z"
	}
	return out
}

var writeJSON = sim.JSON{EncodingError: `{"detail":"A server error occurred."}`}.Write

// writeDetail writes DRF's error body; the API documents none.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

// writeFieldErrors writes DRF's validation error body.
func writeFieldErrors(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string][]string{field: {msg}})
}

// faultError is a fault's DRF-style body: for 429 the throttling detail of w's Retry-After.
func faultError(w http.ResponseWriter, status int, _ string) {
	detail := "Injected fault: " + strconv.Itoa(status) + " " + http.StatusText(status) + "."
	if status == http.StatusTooManyRequests {
		secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || secs < 1 {
			secs = 1
		}
		detail = throttled(secs)
	}
	writeDetail(w, status, detail)
}

// groupsOff is the answer to a group: the feature is off in the simulated community.
const groupsOff = "Groups are not enabled in this community."

// limitOffset reads DRF LimitOffsetPagination's parameters as leniently.
func (s *Server) limitOffset(q url.Values) (limit, offset int) {
	limit = s.cfg.DefaultLimit
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		limit = min(n, s.cfg.MaxLimit)
	}
	if n, err := strconv.Atoi(q.Get("offset")); err == nil && n > 0 {
		offset = n
	}
	return limit, offset
}

// writePage answers p, the page at offset, with DRF's next and previous; its results count as listed.
func writePage[T any](s *Server, w http.ResponseWriter, r *http.Request, listed string, p page[T], limit, offset int) {
	if offset+limit < p.Count {
		p.Next = s.link(r, limit, offset+limit)
	}
	if offset > 0 {
		p.Previous = s.link(r, limit, offset-limit)
	}
	s.Add(listed, int64(len(p.Results)))
	writeJSON(w, http.StatusOK, p)
}

// handleSnippets serves GET /api/v2/pm/, newest last_message_at first.
func (s *Server) handleSnippets(w http.ResponseWriter, r *http.Request, a *account) {
	limit, offset := s.limitOffset(r.URL.Query())
	s.mu.RLock()
	p := page[wireSnippet]{Count: a.index.Len(), Results: sim.Map(sim.Page(a.index.Items(), offset, limit, true), func(t *thread) wireSnippet {
		return t.snippet(t.side(a.user))
	})}
	s.mu.RUnlock()
	writePage(s, w, r, "snippets_listed", p, limit, offset)
}

// snippet has the last message's sender: the doc's "creator of the thread" its examples belie.
func (t *thread) snippet(side int) wireSnippet {
	last := t.msgs[len(t.msgs)-1]
	return wireSnippet{
		ID: t.id, Headline: headline(last.Message), Message: last.Message,
		Sender: last.Sender, Receiver: last.Receiver,
		CreatedAt: t.createdStr, LastMessageAt: t.lastStr, ThreadStatus: t.status(side),
	}
}

// intParam reads an optional integer parameter, or answers DRF's 400.
func intParam(w http.ResponseWriter, q url.Values, name string) (v int64, set, ok bool) {
	raw, set := q.Get(name), q.Has(name)
	if !set {
		return 0, false, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		writeFieldErrors(w, name, "A valid integer is required.")
		return 0, true, false
	}
	return n, true, true
}

// handleThread serves a thread's messages from from_message to before_message, then paged.
func (s *Server) handleThread(w http.ResponseWriter, r *http.Request, a *account) {
	q := r.URL.Query()
	if q.Has("thread") && q.Has("user") || q.Has("group") && (q.Has("thread") || q.Has("user")) {
		writeFieldErrors(w, "non_field_errors", "Only one of thread, user or group can be given.")
		return
	} else if q.Has("group") {
		writeFieldErrors(w, "group", groupsOff)
		return
	}
	var p [4]struct {
		v   int64
		set bool
	}
	for i, name := range []string{"thread", "user", "from_message", "before_message"} {
		var ok bool
		if p[i].v, p[i].set, ok = intParam(w, q, name); !ok {
			return
		}
	}
	threadID, byThread, userID := p[0].v, p[0].set, p[1].v
	limit, offset := s.limitOffset(q)
	s.mu.RLock()
	var t *thread
	if byThread {
		t = s.threads[threadID]
		if t != nil && t.side(a.user) < 0 {
			t = nil
		}
	} else if other := s.users[userID]; other != nil {
		t = s.pairs[[2]int64{min(a.user.id, other.id), max(a.user.id, other.id)}]
	}
	if t == nil && (byThread || s.users[userID] == nil) {
		s.mu.RUnlock()
		// 404 for another user's thread is a choice: the documentation is silent.
		writeDetail(w, http.StatusNotFound, "Not found.")
		return
	}
	var msgs []*message
	if t != nil {
		msgs = t.msgs
		t.seen[t.side(a.user)].Store(int64(len(msgs)))
	}
	s.mu.RUnlock()
	// msgs is append-only, by id: read without the lock.
	lo, hi := 0, len(msgs)
	if p[2].set {
		lo = msgIndex(msgs, p[2].v)
	}
	if p[3].set {
		hi = max(lo, msgIndex(msgs, p[3].v))
	}
	writePage(s, w, r, "messages_listed", page[*message]{Count: hi - lo, Results: sim.Page(msgs[lo:hi], offset, limit, s.cfg.MessagesNewestFirst)}, limit, offset)
}

func msgIndex(msgs []*message, id int64) int {
	i, _ := slices.BinarySearchFunc(msgs, id, func(m *message, id int64) int { return cmp.Compare(m.ID, id) })
	return i
}

// handleMessage serves GET /api/v2/pm/{id}/.
func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request, a *account) {
	p := r.URL.Path
	id, err := strconv.ParseInt(p[len(pmPath):len(p)-1], 10, 64)
	s.mu.RLock()
	m := s.messages[id]
	if m != nil && s.threads[m.ThreadID].side(a.user) < 0 {
		m = nil
	}
	s.mu.RUnlock()
	if err != nil || m == nil {
		writeDetail(w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// sendInput is POST /api/v2/pm/'s body; the JS SDK sends one recipient bare.
type sendInput struct {
	Recipients json.RawMessage `json:"recipients"`
	Group      *int64          `json:"group"`
	Message    string          `json:"message"`
	FileUUID   string          `json:"file_uuid"`
}

const maxSendBytes = 1 << 20

// handleSend serves POST /api/v2/pm/: 201 with the message, or all for several recipients.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request, a *account) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSendBytes))
	if err != nil {
		writeDetail(w, http.StatusRequestEntityTooLarge, "Request body too large.")
		return
	}
	var in sendInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeDetail(w, http.StatusBadRequest, "JSON parse error - "+err.Error())
		return
	}
	ids, ok := recipientIDs(in.Recipients)
	switch {
	case in.Group != nil:
		writeFieldErrors(w, "group", groupsOff)
	case !ok:
		writeFieldErrors(w, "recipients", "This field is required.")
	case strings.TrimSpace(in.Message) == "" && in.FileUUID != "":
		writeFieldErrors(w, "file_uuid", "Invalid file.") // uploads are not simulated
	case strings.TrimSpace(in.Message) == "":
		writeFieldErrors(w, "message", "This field is required.")
	}
	if in.Group != nil || !ok || strings.TrimSpace(in.Message) == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if u := s.users[id]; u == nil || u == a.user {
			msg := sim.If(u == nil, `Invalid pk "`+strconv.FormatInt(id, 10)+`" - object does not exist.`, "You cannot send a message to yourself.")
			writeFieldErrors(w, "recipients", msg)
			return
		}
	}
	out := sim.Map(ids, func(id int64) *message {
		at := s.stamps.Next(time.Time{}, s.now)
		t := s.pairThread(a.user, s.users[id], at)
		return s.appendMessage(t, t.side(a.user), in.Message, at, true)
	})
	if len(out) == 1 {
		writeJSON(w, http.StatusCreated, out[0])
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func recipientIDs(raw json.RawMessage) ([]int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	var ids []int64
	if raw[0] == '[' {
		if json.Unmarshal(raw, &ids) != nil || len(ids) == 0 {
			return nil, false
		}
		return ids, true
	}
	var id int64
	if json.Unmarshal(raw, &id) != nil {
		return nil, false
	}
	return []int64{id}, true
}

// The wire types mirror selfcommunity.md §3, shared between responses.

type (
	// wireUser is the part of a User that private messages carry.
	wireUser struct {
		ID         int64   `json:"id"`
		Username   string  `json:"username"`
		RealName   string  `json:"real_name"`
		Avatar     *string `json:"avatar"`
		Status     string  `json:"status"` // a approved, b blocked, d soft-deleted, u hard-deleted
		DateJoined string  `json:"date_joined"`
		ExtID      *int64  `json:"ext_id"`
	}
	// message is the stored message and its JSON form, immutable once added.
	message struct {
		ID        int64     `json:"id"`
		ThreadID  int64     `json:"thread_id"`
		Message   string    `json:"message"`
		Sender    *wireUser `json:"sender"`
		Receiver  *wireUser `json:"receiver"`
		CreatedAt string    `json:"created_at"`
		Status    string    `json:"status"`
		File      *wireFile `json:"file"`

		at   time.Time
		side int // index of the sender in thread.users
	}
	// wireFile is never set: no attachments are stored.
	wireFile struct {
		UUID     string `json:"uuid"`
		Filename string `json:"filename"`
		Filesize int64  `json:"filesize"`
		Mimetype string `json:"mimetype"`
		URL      string `json:"url"`
	}
	// wireSnippet is a Private Message Snippet: one row of the inbox.
	wireSnippet struct {
		ID            int64     `json:"id"`
		Headline      string    `json:"headline"`
		Message       string    `json:"message"`
		Sender        *wireUser `json:"sender"`
		Receiver      *wireUser `json:"receiver"`
		CreatedAt     string    `json:"created_at"`
		LastMessageAt string    `json:"last_message_at"`
		ThreadStatus  string    `json:"thread_status"`
	}
	// page is DRF's limit/offset envelope.
	page[T any] struct {
		Count    int     `json:"count"`
		Next     *string `json:"next"`
		Previous *string `json:"previous"`
		Results  []T     `json:"results"`
	}
)
