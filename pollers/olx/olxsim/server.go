package olxsim

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Config configures a Server. The zero Config is a valid, unlimited server.
type Config struct {
	// RequestsPerSecond (0: unlimited) and Burst (default the rate) limit each access token; above them 429.
	RequestsPerSecond float64
	Burst             int
	RetryAfter        bool           // on the limiter's 429s; OLX documents none
	Location          *time.Location // of the zone-less times; default UTC (OLX: the site's, likely)
	// BareArray answers lists as a bare array, as OLX's reference shows, and objects without {"data": ...}.
	BareArray           bool
	OmitAdvertID        bool // in GET /threads items, as some accounts see them
	AllowGETContentType bool // which OLX answers 400
	OffsetBase          int  // of a list's first element: 0 or 1
	MessagesNewestFirst bool // OLX does not document the order
	// DefaultLimit (50) and MaxLimit (1000, above: 400) bound list pages; OLX documents neither.
	DefaultLimit, MaxLimit int
	Now                    func() time.Time // default time.Now
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

// Fault is a canned answer (see sim.Fault).
type Fault = sim.Fault

// Server simulates the OLX Partner API's chat endpoints.
type Server struct {
	*sim.Kit
	cfg      Config
	loc      *time.Location
	now      func() time.Time
	threadN  atomic.Int64 // last thread id handed out
	msgN     atomic.Int64 // last message id handed out
	accounts sim.Accounts[*account]
}

// New returns a Server; it panics on an OffsetBase other than 0 or 1.
func New(cfg Config) *Server {
	if cfg.OffsetBase != 0 && cfg.OffsetBase != 1 {
		panic("olxsim: Config.OffsetBase must be 0 or 1")
	}
	cfg.DefaultLimit = cmp.Or(max(cfg.DefaultLimit, 0), 50)
	cfg.MaxLimit = cmp.Or(max(cfg.MaxLimit, 0), 1000)
	s := &Server{cfg: cfg, loc: cmp.Or(cfg.Location, time.UTC), now: sim.Now(cfg.Now), accounts: sim.Accounts[*account]{Prefix: "olxsim"}}
	// Distinct ranges tell a thread id from a message id in logs.
	s.threadN.Store(90000)
	s.msgN.Store(700000)
	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{EndpointThreads, EndpointThread, EndpointMessages, EndpointMessage, EndpointSend, EndpointCommands},
		List:      EndpointThreads, Messages: []string{EndpointMessages},
		Counters: []string{EndpointThreads, EndpointMessages, sim.Unauthorized, "version", "content_type", sim.RateLimited, sim.Faulted, "threads_listed", "messages_listed"},
		Error: func(w http.ResponseWriter, status int, _ string) {
			writeError(w, status, http.StatusText(status), "injected fault: "+strconv.Itoa(status))
		},
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "Not Found", "no such endpoint: "+r.Method+" "+r.URL.Path)
		},
		Stats: func() any { return s.Stats() },
	})
	route := func(pattern, endpoint string, h func(http.ResponseWriter, *http.Request, *account)) {
		s.Handle(pattern, sim.Endpoint(s.Kit, endpoint, s.authenticate, s.limit, h))
	}
	route("GET /api/partner/threads", EndpointThreads, s.handleThreads)
	route("GET /api/partner/threads/{thread}", EndpointThread, s.handleThread)
	route("GET /api/partner/threads/{thread}/messages", EndpointMessages, s.handleMessages)
	route("GET /api/partner/threads/{thread}/messages/{message}", EndpointMessage, s.handleMessage)
	route("POST /api/partner/threads/{thread}/messages", EndpointSend, s.handleSend)
	route("POST /api/partner/threads/{thread}/commands", EndpointCommands, s.handleCommand)
	return s
}

// HarnessUser is the user of every pollerstest harness account, and
// HarnessZone where the simulator writes its zone-less times by default.
const HarnessUser, HarnessZone = "seller", "Europe/Warsaw"

// Registration is the simulator as pollerstest and providersim use it.
var Registration = sim.Registration{
	Define: func(fs *flag.FlagSet) func(rps float64) (sim.Simulator, error) {
		zone := fs.String("olx-timezone", HarnessZone, "IANA zone of the zone-less times the OLX simulator writes (the accounts' timezone option)")
		return func(rps float64) (sim.Simulator, error) {
			loc, err := time.LoadLocation(*zone)
			if err != nil || *zone == "" || *zone == "Local" {
				return nil, fmt.Errorf("-olx-timezone %q is not an IANA zone name", *zone)
			}
			return New(Config{RequestsPerSecond: rps, Location: loc}), nil
		}
	},
	// The prefix tells OLX's opaque tokens from the other keys.
	Token:   func() string { return "olx-" + sim.Key() },
	Account: HarnessUser, Options: map[string]string{"requests_per_second": "500"},
	Remove: func(s sim.Simulator, user, threadID string) { s.(*Server).DeleteThread(user, threadID) },
	Serve: sim.Serve{Count: "olx-accounts", N: 2, Help: "number of simulated OLX users (accounts seller-1, seller-2, ...)",
		First: 1, KeyPrefix: "seller-", IDPrefix: "seller-", FaultAccount: "account"},
}

// AddAccount registers an account (an OLX user, if new) and a token.
func (s *Server) AddAccount(accountID, accessToken string) {
	s.accounts.Add(accountID, accessToken, func(n int) *account { return newAccount(accountID, int64(n+1)) },
		sim.Buckets(s.cfg.RequestsPerSecond, s.cfg.Burst))
}

// Stats counts requests since New or ResetStats (see sim.Kit); GETContentType counts allowed ones.
type Stats struct {
	Calls                                        map[string]int64
	Threads, Messages                            int64
	Unauthorized, MissingVersion, GETContentType int64
	RateLimited, Faults                          int64
	ThreadsListed, MessagesListed                int64
}

// Stats returns the request counters.
func (s *Server) Stats() (st Stats) {
	s.Counts(&st)
	st.Calls = make(map[string]int64)
	for _, e := range s.Endpoints() {
		st.Calls[e] = s.Count(e)
	}
	return st
}

// authenticate checks Version, a GET's Content-Type (400 both) and the token (401), never echoed.
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
	var c *sim.Cred[*account]
	desc := "The access token provided is invalid"
	tok, bearer := sim.Bearer(r)
	switch {
	case r.Header.Get("Authorization") == "":
		desc = "The access token is missing"
	case !bearer:
		desc = "The access token must be sent as a Bearer token"
	default:
		c = s.accounts.Token(tok)
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

// Register is AddAccount; a poller reads times in the simulator's zone.
func (s *Server) Register(accountID, token string) map[string]string {
	s.AddAccount(accountID, token)
	return map[string]string{"timezone": s.loc.String()}
}

// Open adds a thread in which the interlocutor writes text.
func (s *Server) Open(accountID, text string) string {
	return sim.Open(s, accountID, s.AddThread(accountID, NewThread{}), text)
}

// Write adds a message by the interlocutor (inbound) or the owner (outbound).
func (s *Server) Write(accountID, threadID string, d events.Direction, text string) string {
	return s.AddMessage(accountID, threadID, sim.By(d, Interlocutor, Owner), text, time.Time{})
}

var noCVs = []struct{}{}

func (t *thread) wire(withAdvert bool) wireThread {
	w := wireThread{
		ID: t.id, InterlocutorID: t.interlocutorID, TotalCount: len(t.msgs),
		UnreadCount: t.unread, CreatedAt: t.createdStr, IsFavourite: t.favourite,
	}
	if withAdvert {
		w.AdvertID = &t.advertID
	}
	return w
}

// wire copies the message, whose read flag may change.
func (m *message) wire() wireMessage {
	return wireMessage{
		ID: m.id, ThreadID: m.threadID, CreatedAt: m.atStr, Type: m.from.String(),
		Text: m.text, IsRead: m.read, Attachments: m.attachments, CVs: noCVs,
	}
}

type (
	// errorBody is the envelope third-party clients parse; OLX shows none.
	errorBody struct {
		Error errorDetail `json:"error"`
	}
	errorDetail struct {
		Status     int               `json:"status"`
		Title      string            `json:"title"`
		Detail     string            `json:"detail"`
		Validation []validationError `json:"validation,omitempty"`
	}
	validationError struct {
		Field  string `json:"field"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	// oauthError is how OLX's OAuth layer words a refused token.
	oauthError struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		HumanTitle  string `json:"error_human_title"`
	}
	dataEnvelope struct {
		Data any `json:"data"`
	}
)

var writeJSON = sim.JSON{EncodingError: `{"error":{"status":500,"title":"Internal Server Error","detail":"encoding response"}}`}.Write

// writeData answers v in the data envelope, or bare.
func (s *Server) writeData(w http.ResponseWriter, status int, v any) {
	if s.cfg.BareArray {
		writeJSON(w, status, v)
		return
	}
	writeJSON(w, status, dataEnvelope{Data: v})
}

func writeError(w http.ResponseWriter, status int, title, detail string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Status: status, Title: title, Detail: detail}})
}

func writeValidation(w http.ResponseWriter, detail string, errs ...validationError) {
	writeJSON(w, http.StatusBadRequest, errorBody{Error: errorDetail{
		Status: http.StatusBadRequest, Title: "Validation Failed", Detail: detail, Validation: errs,
	}})
}

// window reads offset and limit; OLX documents no bounds.
func (s *Server) window(v url.Values) (offset, limit int, bad *validationError) {
	offset, limit = 0, s.cfg.DefaultLimit
	if raw := v.Get("offset"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < s.cfg.OffsetBase {
			return 0, 0, invalid("offset", "offset must be an integer of at least "+strconv.Itoa(s.cfg.OffsetBase))
		}
		offset = n - s.cfg.OffsetBase
	}
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > s.cfg.MaxLimit {
			return 0, 0, invalid("limit", "limit must be an integer from 1 to "+strconv.Itoa(s.cfg.MaxLimit))
		}
		limit = n
	}
	return offset, limit, nil
}

func invalid(field, detail string) *validationError {
	return &validationError{Field: field, Title: "invalid", Detail: detail}
}

func idFilter(v url.Values, name string) (int64, *validationError) {
	raw := v.Get(name)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, invalid(name, name+" must be a positive integer")
	}
	return n, nil
}

// handleThreads serves GET /threads, newest activity first; filters scan.
func (s *Server) handleThreads(w http.ResponseWriter, r *http.Request, a *account) {
	v := r.URL.Query()
	offset, limit, bad := s.window(v)
	advert, bad2 := idFilter(v, "advert_id")
	person, bad3 := idFilter(v, "interlocutor_id")
	if b := cmp.Or(bad, bad2, bad3); b != nil {
		writeValidation(w, "Invalid query parameters", *b)
		return
	}
	a.RLock()
	order := a.order.Items()
	if advert != 0 || person != 0 {
		order = slices.DeleteFunc(slices.Clone(order), func(t *thread) bool {
			return (advert != 0 && t.advertID != advert) || (person != 0 && t.interlocutorID != person)
		})
	}
	out := sim.Map(sim.Page(order, offset, limit, true), func(t *thread) wireThread { return t.wire(!s.cfg.OmitAdvertID) })
	a.RUnlock()
	s.Add("threads_listed", int64(len(out)))
	s.writeData(w, http.StatusOK, out)
}

// inThread runs f on the request's thread, locked, or answers 404, as for another account's.
func (a *account) inThread(w http.ResponseWriter, r *http.Request, write bool, f func(t *thread)) bool {
	lock, unlock := a.RLock, a.RUnlock
	if write {
		lock, unlock = a.Lock, a.Unlock
	}
	lock()
	id, _ := strconv.ParseInt(r.PathValue("thread"), 10, 64)
	t := a.threads[id]
	if t != nil {
		f(t)
	}
	unlock()
	if t == nil {
		writeError(w, http.StatusNotFound, "Not Found", "thread "+strconv.Quote(r.PathValue("thread"))+" not found")
	}
	return t != nil
}

func (s *Server) handleThread(w http.ResponseWriter, r *http.Request, a *account) {
	var wt wireThread
	if a.inThread(w, r, false, func(t *thread) { wt = t.wire(true) }) {
		s.writeData(w, http.StatusOK, wt)
	}
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request, a *account) {
	offset, limit, bad := s.window(r.URL.Query())
	if bad != nil {
		writeValidation(w, "Invalid query parameters", *bad)
		return
	}
	var out []wireMessage
	if a.inThread(w, r, false, func(t *thread) {
		out = sim.Map(sim.Page(t.msgs, offset, limit, s.cfg.MessagesNewestFirst), (*message).wire)
	}) {
		s.Add("messages_listed", int64(len(out)))
		s.writeData(w, http.StatusOK, out)
	}
}

func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request, a *account) {
	id, err := strconv.ParseInt(r.PathValue("message"), 10, 64)
	var wm *wireMessage
	if !a.inThread(w, r, false, func(t *thread) {
		// Message ids grow, so a thread's messages are sorted by id.
		if i, ok := slices.BinarySearchFunc(t.msgs, id, func(m *message, id int64) int { return cmp.Compare(m.id, id) }); ok && err == nil {
			m := t.msgs[i].wire()
			wm = &m
		}
	}) {
		return
	}
	if wm == nil {
		writeError(w, http.StatusNotFound, "Not Found", "message "+strconv.Quote(r.PathValue("message"))+" not found")
		return
	}
	s.writeData(w, http.StatusOK, *wm)
}

const maxPostBytes = 1 << 20

// sendInput is POST .../messages' body, as third-party clients send it.
type sendInput struct {
	Text        string `json:"text"`
	Attachments []struct {
		URL string `json:"url"`
	} `json:"attachments"`
}

// handleSend serves POST .../messages: 200 with the message is a choice; OLX documents neither.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request, a *account) {
	var in sendInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPostBytes)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request", "the body must be a JSON object")
		return
	}
	if strings.TrimSpace(in.Text) == "" {
		writeValidation(w, "Message could not be sent", validationError{Field: "text", Title: "required", Detail: "text must not be empty"})
		return
	}
	var files []Attachment
	for _, f := range in.Attachments {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			writeValidation(w, "Message could not be sent", *invalid("attachments", "attachments need absolute http(s) URLs"))
			return
		}
		files = append(files, Attachment{Name: cmp.Or(u.Path[strings.LastIndexByte(u.Path, '/')+1:], "attachment"), URL: f.URL})
	}
	var wm wireMessage
	if a.inThread(w, r, true, func(t *thread) { wm = sim.Must(s.appendMessage(a, t, Owner, in.Text, files, time.Time{}, true)).wire() }) {
		s.writeData(w, http.StatusOK, wm)
	}
}

type commandInput struct {
	Command     string `json:"command"`
	IsFavourite *bool  `json:"is_favourite"`
}

// handleCommand serves mark-as-read, set-favourite and unset-favourite, which a client sends.
func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request, a *account) {
	var in commandInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPostBytes)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request", "the body must be a JSON object")
		return
	}
	switch in.Command {
	case "mark-as-read", "set-favourite", "unset-favourite":
	default:
		writeValidation(w, "Unknown command", *invalid("command", "command must be mark-as-read, set-favourite or unset-favourite"))
		return
	}
	if a.inThread(w, r, true, func(t *thread) {
		switch in.Command {
		case "mark-as-read":
			t.markRead()
		case "set-favourite":
			t.favourite = in.IsFavourite == nil || *in.IsFavourite
		case "unset-favourite":
			t.favourite = false
		}
	}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// The wire types mirror olx.md §3.

type (
	wireThread struct {
		ID             int64  `json:"id"`
		AdvertID       *int64 `json:"advert_id,omitempty"` // nil only with Config.OmitAdvertID
		InterlocutorID int64  `json:"interlocutor_id"`
		TotalCount     int    `json:"total_count"`
		UnreadCount    int    `json:"unread_count"`
		CreatedAt      string `json:"created_at"`
		IsFavourite    bool   `json:"is_favourite"`
	}
	wireAttachment struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	wireMessage struct {
		ID          int64            `json:"id"`
		ThreadID    int64            `json:"thread_id"`
		CreatedAt   string           `json:"created_at"`
		Type        string           `json:"type"`
		Text        string           `json:"text"`
		IsRead      bool             `json:"is_read"`
		Attachments []wireAttachment `json:"attachments"`
		CVs         []struct{}       `json:"cvs"`
	}
)
