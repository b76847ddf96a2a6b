package partizapsim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Order is the order of a list.
type Order int

// The orders of a list, by the latest activity (conversations) or the latest message.
const (
	NewestFirst Order = iota // the default
	OldestFirst              // ascending
)

// DefaultMessagesPath is the default Config.MessagesPath.
const DefaultMessagesPath = "/vendor/conversations/{id}/messages"

// Config configures a Server; the zero Config behaves as partizap.md infers the API does.
type Config struct {
	// RequestsPerSecond (0: unlimited) and Burst limit each session; above them 429.
	RequestsPerSecond float64
	Burst             int
	Now               func() time.Time // default time.Now
	// TimeLayout (default time.RFC3339) writes times in Location (default Europe/Moscow).
	TimeLayout string
	Location   *time.Location
	Order      Order // of the conversation list, by (updated_at, id)
	// OffsetCursor makes the cursor an offset, so a walk may list a moved conversation twice or,
	// OldestFirst, skip one.
	OffsetCursor  bool
	MessagesOrder Order
	// MessagesPath routes the message list, {id} in it; NoMessagesEndpoint serves none, as
	// partizap.md found none.
	MessagesPath       string
	NoMessagesEndpoint bool
	IDsAsStrings       bool // ids as JSON strings ("5012")
}

// Endpoints, as Fault.Endpoint and Stats name them.
const (
	EndpointConversations = "conversations" // GET /vendor/conversations
	EndpointMessages      = "messages"      // GET Config.MessagesPath
	EndpointSend          = "send"          // POST .../messages and .../messages/image
	EndpointSearch        = "search"        // GET .../messages/search, /vendor/messages/search
)

// Fault is a canned answer (see sim.Fault), Account a vendor's user id.
type Fault = sim.Fault

// Server simulates Partizap's vendor API, vendors by user id in decimal.
type Server struct {
	*sim.Kit
	cfg    Config
	loc    *time.Location
	layout string
	// Ids come from server-wide sequences, like database auto-increments.
	convSeq, msgSeq, userSeq, productSeq atomic.Int64
	vendors                              sim.Accounts[*vendor]
}

// New returns a Server; it panics on an invalid Config.MessagesPath.
func New(cfg Config) *Server {
	cfg.Now, cfg.MessagesPath = sim.Now(cfg.Now), cmp.Or(cfg.MessagesPath, DefaultMessagesPath)
	s := &Server{cfg: cfg, loc: cfg.Location, layout: cmp.Or(cfg.TimeLayout, time.RFC3339), vendors: sim.Accounts[*vendor]{Noun: "vendor", Prefix: "partizapsim"}}
	if s.loc == nil {
		s.loc = moscow()
	}
	if p := cfg.MessagesPath; !strings.HasPrefix(p, "/") || strings.Count(p, "{id}") != 1 || strings.ContainsAny(p, "?# ") {
		panic(fmt.Sprintf("partizapsim: Config.MessagesPath %q must start with / and hold {id} once", p))
	}
	s.convSeq.Store(5000)
	s.msgSeq.Store(77000)
	s.userSeq.Store(900)
	s.productSeq.Store(88000)
	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{EndpointConversations, EndpointMessages, EndpointSend, EndpointSearch},
		List:      EndpointConversations, Messages: []string{EndpointMessages},
		Counters: []string{EndpointConversations, EndpointMessages, EndpointSend, EndpointSearch, sim.Unauthorized, sim.RateLimited, sim.Faulted, "conversations_listed", "messages_listed"},
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
	if !cfg.NoMessagesEndpoint {
		route("GET "+cfg.MessagesPath, EndpointMessages, s.handleMessages)
	}
	route("POST /vendor/conversations/{id}/messages", EndpointSend, s.handleSend)
	route("POST /vendor/conversations/{id}/messages/image", EndpointSend, s.handleSendImage)
	route("GET /vendor/conversations/{id}/messages/search", EndpointSearch, s.handleSearch)
	route("GET /vendor/messages/search", EndpointSearch, s.handleSearch)
	return s
}

// HarnessVendor is the vendor's user id of every pollerstest harness account.
const HarnessVendor = 5

// Registration is the simulator as pollerstest and providersim use it.
var Registration = sim.Registration{
	Define: sim.Plain(func(rps float64) sim.Simulator { return New(Config{RequestsPerSecond: rps}) }),
	// A PHP-session-like value, apart from the other hex keys.
	Token:   func() string { return "pzs" + sim.Key() },
	Account: strconv.Itoa(HarnessVendor), Options: map[string]string{"requests_per_second": "1000"},
	TokenRefusal: http.StatusUnprocessableEntity,
	Serve: sim.Serve{Count: "partizap-accounts", N: 2, Help: "number of simulated Partizap vendors (accounts vendor-501, vendor-502, ...)",
		First: 501, IDPrefix: "vendor-", FaultAccount: "account", Numeric: true},
}

// moscow is Europe/Moscow, or UTC+3 (since 2014) without a zone database.
func moscow() *time.Location {
	if loc, err := time.LoadLocation("Europe/Moscow"); err == nil {
		return loc
	}
	return time.FixedZone("MSK", 3*60*60)
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// AddVendor registers a vendor (if new) by user id, and a PARTIZAP_SESSION token.
func (s *Server) AddVendor(userID int64, sessionToken string) {
	if userID <= 0 || sessionToken == "" || !validCookieValue(sessionToken) {
		panic("partizapsim: AddVendor needs a positive user id and a session token valid as a cookie value")
	}
	s.vendors.Add(key(userID), sessionToken, func(int) *vendor { return s.newVendor(userID) },
		sim.Buckets(s.cfg.RequestsPerSecond, s.cfg.Burst))
}

// validCookieValue is RFC 6265's cookie-octet, and the comma of PHP's ids.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// Stats counts requests since New or ResetStats (see sim.Kit).
type Stats struct {
	ConversationsCalls, MessagesCalls, SendCalls, SearchCalls int64
	Unauthorized, RateLimited, Faults                         int64
	ConversationsListed, MessagesListed                       int64
}

// Stats returns the request counters.
func (s *Server) Stats() (st Stats) { s.Counts(&st); return st }

// limit is Laravel's throttle middleware, which counts per minute.
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

// authenticate finds the PARTIZAP_SESSION cookie's session, the only way in.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *sim.Cred[*vendor] {
	var c *sim.Cred[*vendor]
	if cookie, err := r.Cookie("PARTIZAP_SESSION"); err == nil && cookie.Value != "" {
		c = s.vendors.Token(cookie.Value)
	}
	if c == nil {
		writeError(w, http.StatusUnauthorized, "Unauthenticated.") // Laravel's, to a JSON request
	}
	return c
}

// csrfOK is writes' double submit: X-CSRF-TOKEN is the CSRF_TOKEN cookie.
func csrfOK(r *http.Request) bool {
	c, err := r.Cookie("CSRF_TOKEN")
	h := r.Header.Get("X-CSRF-TOKEN")
	return err == nil && c.Value != "" && h == c.Value
}

// vendorID is the id of a vendor's key, or of a conversation.
func (s *Server) vendorID(key string) int64 {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		panic("partizapsim: a vendor is named by its user id, not " + strconv.Quote(key))
	}
	return id
}

// Register is AddVendor; a poller reads the vendor by the user_id option.
func (s *Server) Register(vendorID, session string) map[string]string {
	s.AddVendor(s.vendorID(vendorID), session)
	return map[string]string{"user_id": vendorID}
}

// Open adds a conversation in which a buyer writes text.
func (s *Server) Open(vendorID, text string) string {
	return sim.Open(s, vendorID, key(s.AddThread(s.vendorID(vendorID), NewThread{Buyer: "Ivan"})), text)
}

// Write adds a message by the buyer (inbound) or the vendor (outbound).
func (s *Server) Write(vendorID, convID string, d events.Direction, text string) string {
	return key(s.AddMessage(s.vendorID(vendorID), s.vendorID(convID), sim.By(d, Buyer, Vendor), text, time.Time{}))
}

// The wire shapes are partizap.md §3, written from JSON fragments built once.

// appendID writes an id as a JSON number, or a string with IDsAsStrings.
func (s *Server) appendID(b []byte, id int64) []byte {
	if s.cfg.IDsAsStrings {
		return append(strconv.AppendInt(append(b, '"'), id, 10), '"')
	}
	return strconv.AppendInt(b, id, 10)
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

func (s *Server) timeJSON(t time.Time) []byte {
	return appendString(nil, t.In(s.loc).Format(s.layout))
}

func (s *Server) newUser(id int64, name string, reviews, products int, created time.Time) *user {
	b := fmt.Appendf(nil, `{"id":%s,"display_name":%s,"avatar_url":null,"city_id":1,"rating":%s,"reviews_count":%d,"products_count":%d,"created_at":%s}`,
		s.appendID(nil, id), appendString(nil, name), appendString(nil, sim.If(reviews > 0, "4.85", "0.00")), reviews, products, s.timeJSON(created))
	return &user{id: id, name: name, json: b}
}

func (s *Server) newProduct(v *vendor, id int64, title string, price int) *product {
	b := fmt.Appendf(nil, `{"id":%s,"title":%s,"price":%d,"steering":"left","city_id":1,"region_id":77,"district_id":0,`+
		`"metro_station_id":0,"metro_distance_m":0,"address_id":"a-17","images":[{"id":%s,"thumbnail_webp":"%[5]s/t.webp",`+
		`"thumbnail_jpeg":"%[5]s/t.jpg","medium_webp":"%[5]s/m.webp","medium_jpeg":"%[5]s/m.jpg","large_webp":"%[5]s/l.webp",`+
		`"large_jpeg":"%[5]s/l.jpg","status":"ready","is_primary":true,"sort_order":0}],"seller":%[6]s,"published_at":%[7]s}`,
		s.appendID(nil, id), appendString(nil, title), price, s.appendID(nil, id*10), "https://s3.partizap.invalid/products/"+strconv.FormatInt(id, 10),
		v.user.json, s.timeJSON(time.Date(2024, 2, 10, 9, 0, 0, 0, time.UTC)))
	return &product{id: id, title: title, json: b}
}

// encodeMessage builds the two immutable parts of a message's JSON.
func (s *Server) encodeMessage(m *message, convID int64) {
	image := []byte("null")
	if m.imageURL != "" {
		image = appendString(nil, m.imageURL)
	}
	m.pre = fmt.Appendf(nil, `{"id":%s,"conversation_id":%s,"sender_id":%s,"text":%s,"image_url":%s,"is_read":`,
		s.appendID(nil, m.id), s.appendID(nil, convID), s.appendID(nil, m.sender), appendString(nil, m.text), image)
	m.post = fmt.Appendf(nil, `,"is_delivered":true,"created_at":%s}`, s.timeJSON(m.at))
}

func appendMessage(b []byte, c *conv, i int) []byte {
	m := c.msgs[i]
	b = append(b, m.pre...)
	b = strconv.AppendBool(b, c.isRead(i))
	return append(b, m.post...)
}

func (s *Server) appendConv(b []byte, v *vendor, c *conv) []byte {
	b = append(b, `{"id":`...)
	b = s.appendID(b, c.id)
	b = append(b, `,"product_id":`...)
	b = s.appendID(b, c.product.id)
	b = append(b, `,"product":`...)
	b = append(b, c.product.json...)
	b = append(b, `,"participants":[`...)
	b = append(b, v.user.json...)
	b = append(b, ',')
	b = append(b, c.buyer.json...)
	b = append(b, `],"last_message":`...)
	if n := len(c.msgs); n > 0 {
		b = appendMessage(b, c, n-1)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"unread_count":`...)
	b = strconv.AppendInt(b, int64(c.unread), 10)
	b = append(b, `,"created_at":`...)
	b = append(b, c.createdJSON...)
	b = append(b, `,"updated_at":`...)
	b = append(b, c.updatedJSON...)
	return append(b, '}')
}

// appendMeta closes a list: `],"meta":{...}}`.
func appendMeta(b []byte, next string) []byte {
	if next == "" {
		return append(b, `],"meta":{"has_more":false,"next_cursor":null}}`...)
	}
	b = append(b, `],"meta":{"has_more":true,"next_cursor":`...)
	b = appendString(b, next)
	return append(b, "}}"...)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	sim.WriteBody(w, status, "application/json", body)
}

// writeError sends a Laravel-style {"message": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	b := appendString([]byte(`{"message":`), msg)
	writeBody(w, status, append(b, '}'))
}

// writeValidation sends a Laravel-style 422.
func writeValidation(w http.ResponseWriter, field, msg string) {
	b := appendString([]byte(`{"message":`), msg)
	b = appendString(append(b, `,"errors":{`...), field)
	b = appendString(append(b, `:[`...), msg)
	writeBody(w, http.StatusUnprocessableEntity, append(b, `]}}`...))
}

const (
	defaultConvLimit   = 20 // partizap.md §2.1 [C]
	defaultMsgLimit    = 50 // partizap.md §2.2, assumed for the message list
	defaultGlobalLimit = 20
	maxLimit           = 100
)

// Cursor kinds, so that a cursor is never taken for another.
const (
	kindKeyset  = "k" // conversations, keyset position
	kindOffset  = "o" // conversations, offset
	kindMessage = "m" // a conversation's messages, keyset by message id
	kindSearch  = "s" // search results, offset

	cursorVersion = 1
)

// cursor is the opaque cursor, base64url of this JSON like the doc's eyJpZCI6NTAxMn0.
type cursor struct {
	V      int    `json:"v"`
	Kind   string `json:"k"`
	Vendor int64  `json:"u"`
	Conv   int64  `json:"c,omitempty"`
	Ns     int64  `json:"t,omitempty"`
	ID     int64  `json:"id,omitempty"`
	Off    int    `json:"o,omitempty"`
	Query  string `json:"q,omitempty"`
}

func encodeCursor(c cursor) string { c.V = cursorVersion; return sim.EncodeToken(c) }

// pageQuery reads limit (1 to 100, def when absent) and the cursor, if any, of kind and this
// request, or answers 422.
func pageQuery(w http.ResponseWriter, q url.Values, def int, kind string, vendorID, convID int64) (limit int, c cursor, present, ok bool) {
	limit = def
	if s := q.Get("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxLimit {
			writeValidation(w, "limit", "The limit field must be an integer between 1 and 100.")
			return 0, c, false, false
		}
	}
	raw := q.Get("cursor")
	if raw == "" {
		return limit, c, false, true
	}
	if !sim.DecodeToken(raw, &c) || c.V != cursorVersion ||
		c.Kind != kind || c.Vendor != vendorID || c.Conv != convID || c.Off < 0 {
		writeValidation(w, "cursor", "The cursor is invalid.")
		return limit, c, true, false
	}
	return limit, c, true, true
}

// writeList answers a list: rows appends the rows and returns the next cursor, "" on the last page.
func writeList(w http.ResponseWriter, rows func(b []byte) ([]byte, string)) {
	sim.Pooled(func(b []byte) []byte {
		b, next := rows(append(b, `{"data":[`...))
		b = appendMeta(b, next)
		writeBody(w, http.StatusOK, b)
		return b
	})
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, v *vendor) {
	kind := sim.If(s.cfg.OffsetCursor, kindOffset, kindKeyset)
	limit, cur, present, ok := pageQuery(w, r.URL.Query(), defaultConvLimit, kind, v.id, 0)
	if !ok {
		return
	}
	writeList(w, func(b []byte) ([]byte, string) {
		v.RLock()
		defer v.RUnlock()
		rows, next := s.listPage(v, cur, present, limit)
		s.Add("conversations_listed", int64(len(rows)))
		return appendAll(b, len(rows), func(b []byte, k int) []byte { return s.appendConv(b, v, rows[k]) }), next
	})
}

// listPage picks a page of conversations and the next cursor in O(log n + limit).
func (s *Server) listPage(v *vendor, cur cursor, present bool, limit int) ([]*conv, string) {
	idx := v.index.Items()
	n := len(idx)
	if s.cfg.OffsetCursor {
		off := sim.If(present, cur.Off, 0)
		rows := sim.Page(idx, off, limit, s.cfg.Order != OldestFirst)
		if off+limit >= n {
			return rows, ""
		}
		return rows, encodeCursor(cursor{Kind: kindOffset, Vendor: v.id, Off: off + limit})
	}
	lo, hi := 0, n
	switch {
	case present && s.cfg.Order == OldestFirst:
		lo = v.index.After(cur.Ns, cur.ID)
	case present:
		hi = v.index.Search(cur.Ns, cur.ID)
	}
	rows := sim.Page(idx[lo:hi], 0, limit, s.cfg.Order != OldestFirst)
	if len(rows) == hi-lo || len(rows) == 0 {
		return rows, ""
	}
	last := rows[len(rows)-1]
	return rows, encodeCursor(cursor{Kind: kindKeyset, Vendor: v.id, Ns: last.updNs, ID: last.id})
}

// convFromPath finds the {id} conversation, or answers 404, as for another vendor's.
func convFromPath(w http.ResponseWriter, r *http.Request, v *vendor) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	v.RLock()
	_, ok := v.convs[id]
	v.RUnlock()
	if err != nil || !ok {
		writeError(w, http.StatusNotFound, "Conversation not found.")
	}
	return id, err == nil && ok
}

// handleMessages serves the message list partizap.md assumes, keyset by message id.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request, v *vendor) {
	id, ok := convFromPath(w, r, v)
	if !ok {
		return
	}
	limit, cur, present, ok := pageQuery(w, r.URL.Query(), defaultMsgLimit, kindMessage, v.id, id)
	if ok {
		writeList(w, func(b []byte) ([]byte, string) { return s.messagePage(b, v, id, cur, present, limit) })
	}
}

func (s *Server) messagePage(b []byte, v *vendor, id int64, cur cursor, present bool, limit int) ([]byte, string) {
	v.RLock()
	defer v.RUnlock()
	c := v.convs[id]
	pos := func(id int64) int { return sort.Search(len(c.msgs), func(i int) bool { return c.msgs[i].id >= id }) }
	lo, hi, back := 0, len(c.msgs), s.cfg.MessagesOrder != OldestFirst
	switch {
	case present && !back:
		lo = pos(cur.ID + 1)
	case present:
		hi = pos(cur.ID)
	}
	first, step, rows := lo, 1, min(limit, hi-lo)
	if back {
		first, step = hi-1, -1
	}
	b = appendAll(b, rows, func(b []byte, k int) []byte { return appendMessage(b, c, first+k*step) })
	next := ""
	if rows > 0 && rows < hi-lo {
		next = encodeCursor(cursor{Kind: kindMessage, Vendor: v.id, Conv: id, ID: c.msgs[first+(rows-1)*step].id})
	}
	s.Add("messages_listed", int64(rows))
	return b, next
}

// appendAll appends n items, comma-separated.
func appendAll(b []byte, n int, item func(b []byte, k int) []byte) []byte {
	for k := range n {
		if k > 0 {
			b = append(b, ',')
		}
		b = item(b, k)
	}
	return b
}

// searchQuery reads q (at least 2 characters, partizap.md §2.2 [C]).
func searchQuery(w http.ResponseWriter, q url.Values, vendorID, convID int64, def int) (term string, limit, off int, ok bool) {
	term = strings.TrimSpace(q.Get("q"))
	if utf8.RuneCountInString(term) < 2 {
		writeValidation(w, "q", "The q field must be at least 2 characters.")
		return "", 0, 0, false
	}
	limit, cur, present, ok := pageQuery(w, q, def, kindSearch, vendorID, convID)
	if ok && present && cur.Query != term {
		writeValidation(w, "cursor", "The cursor is invalid.")
		ok = false
	}
	return term, limit, cur.Off, ok
}

// hit is a message that matches a search: c.msgs[i].
type hit struct {
	c *conv
	i int
}

// hits are the messages of convs containing term, any case, newest first.
func hits(convs []*conv, term string) []hit {
	var out []hit
	term = strings.ToLower(term)
	for _, c := range convs {
		for i, m := range c.msgs {
			if strings.Contains(strings.ToLower(m.text), term) {
				out = append(out, hit{c, i})
			}
		}
	}
	slices.SortFunc(out, func(a, b hit) int { return cmp.Compare(b.c.msgs[b.i].id, a.c.msgs[a.i].id) })
	return out
}

// handleSearch serves GET .../{id}/messages/search and, with conversations, GET
// /vendor/messages/search; it scans: threadsync does not poll search.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, v *vendor) {
	convID, def := int64(0), defaultGlobalLimit
	if r.PathValue("id") != "" {
		var ok bool
		if convID, ok = convFromPath(w, r, v); !ok {
			return
		}
		def = defaultMsgLimit
	}
	term, limit, off, ok := searchQuery(w, r.URL.Query(), v.id, convID, def)
	if !ok {
		return
	}
	v.RLock()
	defer v.RUnlock()
	convs := sim.If(convID != 0, []*conv{v.convs[convID]}, v.byID)
	found := hits(convs, term)
	page := sim.Page(found, off, limit, false)
	b := appendAll([]byte(`{"data":[`), len(page), func(b []byte, k int) []byte {
		h := page[k]
		if convID != 0 {
			return appendMessage(b, h.c, h.i)
		}
		m := appendMessage(nil, h.c, h.i)
		b = append(append(b, m[:len(m)-1]...), `,"conversation":{"id":`...)
		b = append(s.appendID(b, h.c.id), `,"companion":{"id":`...)
		b = append(s.appendID(b, h.c.buyer.id), `,"name":`...)
		b = append(appendString(b, h.c.buyer.name), `},"product":{"id":`...)
		b = append(s.appendID(b, h.c.product.id), `,"title":`...)
		return append(appendString(b, h.c.product.title), "}}}"...)
	})
	next := ""
	if len(found)-limit > off {
		next = encodeCursor(cursor{Kind: kindSearch, Vendor: v.id, Conv: convID, Off: off + limit, Query: term})
	}
	writeBody(w, http.StatusOK, appendMeta(b, next))
}

// writable finds the conversation of a write past the CSRF check (419).
func writable(w http.ResponseWriter, r *http.Request, v *vendor) (int64, bool) {
	if !csrfOK(r) {
		writeError(w, 419, "CSRF token mismatch.")
		return 0, false
	}
	return convFromPath(w, r, v)
}

// handleSend serves POST .../{id}/messages, as partizap.md assumes it.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request, v *vendor) {
	id, ok := writable(w, r, v)
	if !ok {
		return
	}
	var in struct {
		Text string `json:"text"`
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		in.Text = r.FormValue("text")
	} else if body, err := io.ReadAll(r.Body); err != nil || json.Unmarshal(body, &in) != nil {
		writeError(w, http.StatusBadRequest, "The request body is not valid JSON.")
		return
	}
	if strings.TrimSpace(in.Text) == "" {
		writeValidation(w, "text", "The text field is required.")
		return
	}
	v.Lock()
	c := v.convs[id]
	sim.Must(s.appendMessage(v, c, Vendor, in.Text, "", time.Time{}))
	b := appendMessage([]byte(`{"data":`), c, len(c.msgs)-1)
	v.Unlock()
	writeBody(w, http.StatusCreated, append(b, '}'))
}

// handleSendImage serves POST .../{id}/messages/image (partizap.md §2 [C]).
func (s *Server) handleSendImage(w http.ResponseWriter, r *http.Request, v *vendor) {
	id, ok := writable(w, r, v)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<20)
	if err := r.ParseMultipartForm(16 << 20); err != nil || len(r.MultipartForm.File["image"]) == 0 {
		if err == nil {
			_ = r.MultipartForm.RemoveAll()
		}
		writeValidation(w, "image", "The image field is required.")
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	v.Lock()
	c := v.convs[id]
	sim.Must(s.appendMessage(v, c, Vendor, "", "https://s3.partizap.invalid/chat/"+strconv.FormatInt(c.id, 10)+"/"+strconv.Itoa(len(c.msgs)+1)+".jpg", time.Time{}))
	v.Unlock()
	writeBody(w, http.StatusOK, []byte(`{}`))
}
