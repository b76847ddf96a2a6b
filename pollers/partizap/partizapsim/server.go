package partizapsim

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

type counters struct {
	conversations, messages, send, search atomic.Int64
	unauthorized, rateLimited, faults     atomic.Int64
	conversationsListed, messagesListed   atomic.Int64
}

// Server simulates Partizap's vendor API. Create it with New; it is an
// http.Handler.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	stats  counters
	loc    *time.Location
	layout string

	// Ids come from server-wide sequences, like database auto-increments.
	convSeq, msgSeq, userSeq, productSeq atomic.Int64

	mu       sync.RWMutex
	vendors  map[int64]*vendor
	sessions map[string]*session

	faults   sim.Faults[Fault]
	schedule sim.Schedule // by vendor id in decimal

	// onTraffic, when set before Traffic starts, runs after each Traffic
	// event: tests wait on it instead of sleeping.
	onTraffic func()
}

type session struct {
	vendor *vendor
	lim    *sim.Bucket // nil when unlimited
}

// New returns a Server without vendors. It panics on an invalid
// Config.MessagesPath: that is a mistake in the test.
func New(cfg Config) *Server {
	s := &Server{
		cfg:      cfg,
		vendors:  make(map[int64]*vendor),
		sessions: make(map[string]*session),
		loc:      cfg.Location,
		layout:   cfg.TimeLayout,
	}
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

	mux := http.NewServeMux()
	mux.Handle("GET /vendor/conversations", s.endpoint(EndpointConversations, s.handleList))
	if !s.cfg.NoMessagesEndpoint {
		mux.Handle("GET "+s.cfg.MessagesPath, s.endpoint(EndpointMessages, s.handleMessages))
	}
	mux.Handle("POST /vendor/conversations/{id}/messages", s.endpoint(EndpointSend, s.handleSend))
	mux.Handle("POST /vendor/conversations/{id}/messages/image", s.endpoint(EndpointSend, s.handleSendImage))
	mux.Handle("GET /vendor/conversations/{id}/messages/search", s.endpoint(EndpointSearch, s.handleSearchConversation))
	mux.Handle("GET /vendor/messages/search", s.endpoint(EndpointSearch, s.handleSearchAll))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "The route "+strings.TrimPrefix(r.URL.Path, "/")+" could not be found.")
	})
	s.mux = mux
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

// ServeHTTP serves the API relative to the handler's root.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// AddVendor registers a vendor (if new) by its Partizap user id, and a
// session token (the PARTIZAP_SESSION cookie value) logged in as it; call it
// again to give a vendor more sessions. It panics if the session already
// belongs to another vendor, the id is not positive or the session is empty
// or not a valid cookie value.
func (s *Server) AddVendor(userID int64, sessionToken string) {
	if userID <= 0 || sessionToken == "" || !validCookieValue(sessionToken) {
		panic("partizapsim: AddVendor needs a positive user id and a session token valid as a cookie value")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.vendors[userID]
	if v == nil {
		v = s.newVendor(userID)
		s.vendors[userID] = v
	}
	if ss, ok := s.sessions[sessionToken]; ok {
		if ss.vendor != v {
			panic(fmt.Sprintf("partizapsim: session already belongs to vendor %d", ss.vendor.id))
		}
		return
	}
	ss := &session{vendor: v}
	if s.cfg.RequestsPerSecond > 0 {
		ss.lim = sim.NewBucket(s.cfg.RequestsPerSecond, s.cfg.Burst)
	}
	s.sessions[sessionToken] = ss
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
		ConversationsCalls:  s.stats.conversations.Load(),
		MessagesCalls:       s.stats.messages.Load(),
		SendCalls:           s.stats.send.Load(),
		SearchCalls:         s.stats.search.Load(),
		Unauthorized:        s.stats.unauthorized.Load(),
		RateLimited:         s.stats.rateLimited.Load(),
		Faults:              s.stats.faults.Load(),
		ConversationsListed: s.stats.conversationsListed.Load(),
		MessagesListed:      s.stats.messagesListed.Load(),
	}
}

// ResetStats sets every counter back to zero, ScheduleStats' included.
func (s *Server) ResetStats() {
	for _, c := range []*atomic.Int64{
		&s.stats.conversations, &s.stats.messages, &s.stats.send, &s.stats.search,
		&s.stats.unauthorized, &s.stats.rateLimited, &s.stats.faults,
		&s.stats.conversationsListed, &s.stats.messagesListed,
	} {
		c.Store(0)
	}
	s.schedule.ResetObserved()
}

type vendorHandler func(w http.ResponseWriter, r *http.Request, v *vendor)

// endpoint wraps a handler in what every call goes through, in this order:
// authentication (401), the call counter, injected faults, sustained
// faults, the rate limiter (429).
func (s *Server) endpoint(name string, h vendorHandler) http.Handler {
	var calls *atomic.Int64
	switch name {
	case EndpointConversations:
		calls = &s.stats.conversations
	case EndpointMessages:
		calls = &s.stats.messages
	case EndpointSend:
		calls = &s.stats.send
	default:
		calls = &s.stats.search
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := s.authenticate(r)
		if ss == nil {
			s.stats.unauthorized.Add(1)
			// Laravel's answer to a JSON request without a valid session.
			writeError(w, http.StatusUnauthorized, "Unauthenticated.")
			return
		}
		calls.Add(1)
		id := ss.vendor.id
		s.schedule.Handle(w, r, strconv.FormatInt(id, 10), sim.Chain{
			Fault: func(w http.ResponseWriter) bool { return s.serveFault(w, name, id) },
			Error: faultError,
			Next: func(w http.ResponseWriter) {
				if ss.lim != nil {
					limit := strconv.Itoa(int(math.Ceil(s.cfg.RequestsPerSecond * 60)))
					remaining, wait, ok := ss.lim.Take(s.now())
					// Per minute, as Laravel's throttle middleware counts.
					w.Header().Set("X-RateLimit-Limit", limit)
					w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
					if !ok {
						s.stats.rateLimited.Add(1)
						w.Header().Set("Retry-After", strconv.Itoa(sim.RetrySeconds(wait)))
						writeError(w, http.StatusTooManyRequests, "Too Many Attempts.")
						return
					}
				}
				h(w, r, ss.vendor)
			},
		})
	})
}

// authenticate finds the session of the PARTIZAP_SESSION cookie. An
// Authorization header is not a way in: the API knows only the cookie.
func (s *Server) authenticate(r *http.Request) *session {
	c, err := r.Cookie("PARTIZAP_SESSION")
	if err != nil || c.Value == "" {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessions[c.Value]
}

// csrfOK is the double-submit check of writes: the X-CSRF-TOKEN header
// equals the CSRF_TOKEN cookie.
func csrfOK(r *http.Request) bool {
	c, err := r.Cookie("CSRF_TOKEN")
	h := r.Header.Get("X-CSRF-TOKEN")
	return err == nil && c.Value != "" && h == c.Value
}
