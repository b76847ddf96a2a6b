package partizapsim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Order is the order of a list.
type Order int

const (
	// NewestFirst lists the latest activity (conversations) or the latest
	// message first. The default.
	NewestFirst Order = iota
	// OldestFirst lists in ascending order.
	OldestFirst
)

// DefaultMessagesPath is where the simulator serves a conversation's
// messages unless Config.MessagesPath says otherwise; {id} is the
// conversation id.
const DefaultMessagesPath = "/vendor/conversations/{id}/messages"

// Config configures a Server. The zero Config is a valid, unlimited server
// that behaves as partizap.md infers the real API does.
type Config struct {
	// RequestsPerSecond is the request rate allowed per session; above it
	// the server answers 429 with Retry-After and X-RateLimit-* headers.
	// Default 0: unlimited.
	RequestsPerSecond float64
	// Burst is how many requests a session may send back to back before
	// the rate applies. Default: RequestsPerSecond rounded up, at least 1.
	Burst int
	// Now is the clock for new messages and for the rate limiter, so tests
	// can drive both by hand. Default time.Now.
	Now func() time.Time
	// TimeLayout formats every time the API returns (a Go layout). Default
	// time.RFC3339: "2024-03-05T18:22:40+03:00", whole seconds. A layout
	// without a zone, such as time.DateTime, gives Location's wall clock.
	TimeLayout string
	// Location is the zone times are written in. Default Europe/Moscow.
	Location *time.Location
	// Order is the conversation list's order by (updated_at, id). Default
	// NewestFirst.
	Order Order
	// OffsetCursor makes the conversation cursor an offset into the list
	// rather than a keyset position: a conversation that moves during a
	// walk then shifts the others, so a walk may list one twice or, with
	// OldestFirst, skip one. Default false.
	OffsetCursor bool
	// MessagesOrder is the message list's order. Default NewestFirst.
	MessagesOrder Order
	// MessagesPath is the route of a conversation's message list, with an
	// {id} placeholder. Default DefaultMessagesPath.
	MessagesPath string
	// NoMessagesEndpoint serves no message list at all (404), as the real
	// API may: partizap.md found no such endpoint.
	NoMessagesEndpoint bool
	// IDsAsStrings writes every id as a JSON string ("5012") instead of a
	// number.
	IDsAsStrings bool
}

// Endpoints, as Fault.Endpoint and Stats name them.
const (
	EndpointConversations = "conversations" // GET /vendor/conversations
	EndpointMessages      = "messages"      // GET the message list (Config.MessagesPath)
	EndpointSend          = "send"          // POST .../messages and .../messages/image
	EndpointSearch        = "search"        // GET .../messages/search, /vendor/messages/search
)

// Stats counts requests since New or the last ResetStats.
type Stats struct {
	// ConversationsCalls, MessagesCalls, SendCalls and SearchCalls count
	// authenticated requests per endpoint, whatever their outcome (faults
	// and 429s included).
	ConversationsCalls, MessagesCalls, SendCalls, SearchCalls int64
	// Unauthorized counts requests refused with 401.
	Unauthorized int64
	// RateLimited counts 429s from the rate limiter (not injected ones).
	RateLimited int64
	// Faults counts requests answered by an injected fault.
	Faults int64
	// ConversationsListed and MessagesListed count the rows returned by
	// the conversation and message lists.
	ConversationsListed, MessagesListed int64
}

// Fault is a canned answer the server gives instead of the real one (see
// sim.Fault): Endpoint is one of the Endpoint constants, Account a
// vendor's user id in decimal, and without a Body it answers with a
// Laravel-style {"message": ...} error.
type Fault = sim.Fault

// Server simulates Partizap's vendor API. Create it with New; it is an
// http.Handler, and its embedded Kit injects faults and counts. Vendors
// are the Kit's accounts by their user id in decimal.
type Server struct {
	*sim.Kit
	cfg    Config
	loc    *time.Location
	layout string

	// Ids come from server-wide sequences, like database auto-increments.
	convSeq, msgSeq, userSeq, productSeq atomic.Int64

	vendors sim.Accounts[*vendor]
}

var _ sim.Simulator = (*Server)(nil)

// New returns a Server without vendors. It panics on an invalid
// Config.MessagesPath: that is a mistake in the test.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, loc: cfg.Location, layout: cfg.TimeLayout, vendors: sim.Accounts[*vendor]{Noun: "vendor", Prefix: "partizapsim"}}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.loc == nil {
		s.loc = moscow()
	}
	if s.layout == "" {
		s.layout = time.RFC3339
	}
	if s.cfg.MessagesPath == "" {
		s.cfg.MessagesPath = DefaultMessagesPath
	}
	if p := s.cfg.MessagesPath; !strings.HasPrefix(p, "/") || strings.Count(p, "{id}") != 1 || strings.ContainsAny(p, "?# ") {
		panic(fmt.Sprintf("partizapsim: Config.MessagesPath %q must start with / and hold {id} once", p))
	}
	s.convSeq.Store(5000)
	s.msgSeq.Store(77000)
	s.userSeq.Store(900)
	s.productSeq.Store(88000)

	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{EndpointConversations, EndpointMessages, EndpointSend, EndpointSearch},
		List:      EndpointConversations, Messages: []string{EndpointMessages},
		Counters: []string{"conversations_listed", "messages_listed"},
		Error: func(w http.ResponseWriter, status int, _ string) {
			writeError(w, status, "Injected fault: "+strconv.Itoa(status)+" "+http.StatusText(status)+".")
		},
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "The route "+strings.TrimPrefix(r.URL.Path, "/")+" could not be found.")
		},
		Stats: func() any { return s.Stats() },
	})
	route := func(pattern, endpoint string, h func(http.ResponseWriter, *http.Request, *vendor)) {
		s.Handle(pattern, sim.Endpoint(s.Kit, endpoint, s.authenticate, s.limit, h))
	}
	route("GET /vendor/conversations", EndpointConversations, s.handleList)
	if !s.cfg.NoMessagesEndpoint {
		route("GET "+s.cfg.MessagesPath, EndpointMessages, s.handleMessages)
	}
	route("POST /vendor/conversations/{id}/messages", EndpointSend, s.handleSend)
	route("POST /vendor/conversations/{id}/messages/image", EndpointSend, s.handleSendImage)
	route("GET /vendor/conversations/{id}/messages/search", EndpointSearch, s.handleSearchConversation)
	route("GET /vendor/messages/search", EndpointSearch, s.handleSearchAll)
	return s
}

// moscow is Europe/Moscow, or its fixed offset (UTC+3 since 2014) where the
// system has no zone database.
func moscow() *time.Location {
	if loc, err := time.LoadLocation("Europe/Moscow"); err == nil {
		return loc
	}
	return time.FixedZone("MSK", 3*60*60)
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// AddVendor registers a vendor (if new) by its Partizap user id, and a
// session token (the PARTIZAP_SESSION cookie value) logged in as it; call it
// again to give a vendor more sessions. It panics if the session already
// belongs to another vendor, the id is not positive or the session is empty
// or not a valid cookie value.
func (s *Server) AddVendor(userID int64, sessionToken string) {
	if userID <= 0 || sessionToken == "" || !validCookieValue(sessionToken) {
		panic("partizapsim: AddVendor needs a positive user id and a session token valid as a cookie value")
	}
	s.vendors.Add(key(userID), sessionToken, func(int) *vendor { return s.newVendor(userID) },
		sim.Buckets(s.cfg.RequestsPerSecond, s.cfg.Burst))
}

// validCookieValue reports whether v can be sent as a cookie value unquoted:
// RFC 6265's cookie-octet, plus the comma PHP session ids may hold.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	return Stats{
		ConversationsCalls: s.Count(EndpointConversations), MessagesCalls: s.Count(EndpointMessages),
		SendCalls: s.Count(EndpointSend), SearchCalls: s.Count(EndpointSearch),
		Unauthorized: s.Count(sim.Unauthorized), RateLimited: s.Count(sim.RateLimited), Faults: s.Count(sim.Faulted),
		ConversationsListed: s.Count("conversations_listed"), MessagesListed: s.Count("messages_listed"),
	}
}

// limit is Laravel's throttle middleware, which counts per minute and
// says so on every answer.
func (s *Server) limit(w http.ResponseWriter, c *sim.Cred[*vendor]) bool {
	if c.Limit == nil {
		return true
	}
	remaining, wait, ok := c.Limit.Take(s.now())
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(int(math.Ceil(s.cfg.RequestsPerSecond*60))))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	if !ok {
		s.Add(sim.RateLimited, 1)
		w.Header().Set("Retry-After", strconv.Itoa(sim.RetrySeconds(wait)))
		writeError(w, http.StatusTooManyRequests, "Too Many Attempts.")
	}
	return ok
}

// authenticate finds the session of the PARTIZAP_SESSION cookie. An
// Authorization header is not a way in: the API knows only the cookie.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *sim.Cred[*vendor] {
	var c *sim.Cred[*vendor]
	if cookie, err := r.Cookie("PARTIZAP_SESSION"); err == nil && cookie.Value != "" {
		c = s.vendors.Token(cookie.Value)
	}
	if c == nil {
		// Laravel's answer to a JSON request without a valid session.
		writeError(w, http.StatusUnauthorized, "Unauthenticated.")
	}
	return c
}

// csrfOK is the double-submit check of writes: the X-CSRF-TOKEN header
// equals the CSRF_TOKEN cookie.
func csrfOK(r *http.Request) bool {
	c, err := r.Cookie("CSRF_TOKEN")
	h := r.Header.Get("X-CSRF-TOKEN")
	return err == nil && c.Value != "" && h == c.Value
}

// The sim.Simulator methods, by the vendor's user id in decimal.

func (s *Server) vendorID(key string) int64 {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		panic("partizapsim: a vendor is named by its user id, not " + strconv.Quote(key))
	}
	return id
}

// Register is AddVendor; a poller reads the vendor with the user_id
// option.
func (s *Server) Register(vendorID, session string) map[string]string {
	s.AddVendor(s.vendorID(vendorID), session)
	return map[string]string{"user_id": vendorID}
}

// Open adds a conversation in which a buyer writes text.
func (s *Server) Open(vendorID, text string) string {
	id := s.AddThread(s.vendorID(vendorID), NewThread{Buyer: "Ivan"})
	s.AddMessage(s.vendorID(vendorID), id, Buyer, text, time.Time{})
	return key(id)
}

// Write adds a message by the buyer (inbound) or the vendor (outbound).
func (s *Server) Write(vendorID, convID string, d events.Direction, text string) string {
	return key(s.AddMessage(s.vendorID(vendorID), s.vendorID(convID), sim.By(d, Buyer, Vendor), text, time.Time{}))
}

// Fill is Seed ending now.
func (s *Server) Fill(vendorID string, threads, perThread int) {
	s.Seed(s.vendorID(vendorID), threads, perThread, time.Time{})
}

// Truth gives message times as the API writes them: to the precision of
// Config.TimeLayout (whole seconds by default), finer than which a client
// cannot know them.
func (s *Server) Truth(vendorID string) []sim.Thread {
	return sim.Truth(s.Threads(s.vendorID(vendorID)), func(t ThreadInfo) (string, bool, []MessageInfo) { return key(t.ID), false, t.Messages },
		func(m MessageInfo) (string, string, time.Time) {
			// Written and read in UTC: the instant is the one the API
			// states in whatever zone, the layout's precision applied.
			at, err := time.Parse(s.layout, m.At.UTC().Format(s.layout))
			if err != nil {
				panic(fmt.Sprintf("partizapsim: message %d: time %v in layout %q: %v", m.ID, m.At, s.layout, err))
			}
			return key(m.ID), m.Direction, at
		})
}
