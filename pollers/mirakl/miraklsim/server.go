package miraklsim

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime/multipart"
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
	// RequestsPerSecond (0: unlimited) and Burst limit each key; above them 429 with Retry-After.
	RequestsPerSecond float64
	Burst             int
	// ReplyNeededLatest dates shop_reply_needed_since by the latest message: the reference is open.
	ReplyNeededLatest bool
	Now               func() time.Time // default time.Now
}

// Fault is a canned answer (see sim.Fault) of "M10", "M11" or "M12".
type Fault = sim.Fault

// Server simulates a Mirakl instance's seller inbox API.
type Server struct {
	*sim.Kit
	cfg   Config
	now   func() time.Time
	idSeq atomic.Uint64
	shops sim.Accounts[*shop]
}

// New returns a Server without shops.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, now: sim.Now(cfg.Now), shops: sim.Accounts[*shop]{Noun: "shop", Prefix: "miraklsim"}}
	s.Kit = sim.NewKit(sim.API{
		Endpoints: []string{"M10", "M11", "M12"}, List: "M11", Messages: []string{"M10"},
		Counters: []string{"M10", "M11", "M12", sim.Unauthorized, sim.RateLimited, sim.Faulted, "listed"},
		Error: func(w http.ResponseWriter, status int, _ string) {
			writeError(w, status, "injected fault: "+strconv.Itoa(status)+" "+http.StatusText(status))
		},
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
		},
		Stats: func() any { return s.Stats() },
	})
	route := func(pattern, endpoint string, h func(http.ResponseWriter, *http.Request, *shop)) {
		s.Handle(pattern, sim.Endpoint(s.Kit, endpoint, s.authenticate, s.limit, h))
	}
	route("GET /api/inbox/threads", "M11", s.handleList)
	route("GET /api/inbox/threads/{thread_id}", "M10", s.handleThread)
	route("POST /api/inbox/threads/{thread_id}/message", "M12", s.handlePost)
	return s
}

// HarnessShop is the shop of every pollerstest harness account.
const HarnessShop = "2001"

// Registration is the simulator as pollerstest and providersim use it.
var Registration = sim.Registration{
	Define: sim.Plain(func(rps float64) sim.Simulator { return New(Config{RequestsPerSecond: rps}) }),
	Token:  sim.Key, Account: HarnessShop, TokenRefusal: http.StatusBadRequest,
	Serve: sim.Serve{Count: "mirakl-shops", N: 3, Help: "number of simulated Mirakl shops (accounts shop-2001, shop-2002, ...)",
		First: 2001, IDPrefix: "shop-", FaultAccount: "shop"},
}

// AddShop registers a shop (if new) and an API key for it.
func (s *Server) AddShop(shopID, key string) {
	s.shops.Add(shopID, key, func(int) *shop { return newShop(shopID) }, sim.Buckets(s.cfg.RequestsPerSecond, s.cfg.Burst))
}

// Stats counts requests since New or ResetStats (see sim.Kit).
type Stats struct {
	M10Calls, M11Calls, M12Calls int64
	Unauthorized, RateLimited    int64
	Faults, ThreadsListed        int64
}

// Stats returns the request counters.
func (s *Server) Stats() (st Stats) { s.Counts(&st); return st }

// authenticate checks the raw API key (never echoed) and shop_id.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *sim.Cred[*shop] {
	raw := r.Header.Get("Authorization")
	var c *sim.Cred[*shop]
	msg := "invalid API key"
	switch {
	case raw == "":
		msg = "missing API key in the Authorization header"
	case strings.HasPrefix(strings.ToLower(raw), "bearer "):
		// A Bearer token is another Mirakl product's auth.
		msg = "invalid API key: send the raw key, without a Bearer prefix"
	default:
		c = s.shops.Token(raw)
	}
	if c == nil {
		writeError(w, http.StatusUnauthorized, msg)
		return nil
	}
	// A key has one shop here; 403 is a choice, the reference says none.
	if id := r.URL.Query().Get("shop_id"); id != "" && id != c.Key {
		writeError(w, http.StatusForbidden, "API key has no access to shop "+strconv.Quote(id))
		return nil
	}
	return c
}

func (s *Server) limit(w http.ResponseWriter, c *sim.Cred[*shop]) bool {
	return s.Throttle(w, c.Limit, s.now(), true, func(w http.ResponseWriter, _ int) {
		writeError(w, http.StatusTooManyRequests, "too many requests")
	})
}

// Register is AddShop; a poller reads the shop with the shop_id option.
func (s *Server) Register(shopID, key string) map[string]string {
	s.AddShop(shopID, key)
	return map[string]string{"shop_id": shopID}
}

// Open adds a thread in which the customer writes text.
func (s *Server) Open(shopID, text string) string {
	return sim.Open(s, shopID, s.AddThread(shopID, NewThread{Customer: "Jane"}), text)
}

// Write adds a message by the customer (inbound) or the shop (outbound).
func (s *Server) Write(shopID, threadID string, d events.Direction, text string) string {
	return s.AddMessage(shopID, threadID, sim.By(d, Customer, Shop), text, time.Time{})
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

var writeJSON = sim.JSON{EncodingError: `{"status":500,"message":"encoding response"}`}.Write

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Status: status, Message: msg})
}

// handleThread serves M10: a thread with all its messages.
func (s *Server) handleThread(w http.ResponseWriter, r *http.Request, sh *shop) {
	id := r.PathValue("thread_id")
	sh.RLock()
	t := sh.threads[id]
	var wt wireThread
	if t != nil {
		wt = t.wire(true, 0)
	}
	sh.RUnlock()
	if t == nil {
		// Mirakl is understood to answer 404, for another shop's thread too.
		writeError(w, http.StatusNotFound, "thread "+strconv.Quote(id)+" not found")
		return
	}
	writeJSON(w, http.StatusOK, wt)
}

// handlePost serves M12: multipart/form-data with a JSON message_input.
func (s *Server) handlePost(w http.ResponseWriter, r *http.Request, sh *shop) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		writeError(w, http.StatusBadRequest, "expected multipart/form-data with a message_input part")
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	atts := sim.Map(r.MultipartForm.File["files"], func(fh *multipart.FileHeader) Attachment { return Attachment{Name: fh.Filename, Size: fh.Size} })
	sh.Lock()
	defer sh.Unlock()
	in, t, msg := s.postInput(r, sh)
	if t == nil && msg == "" {
		writeError(w, http.StatusNotFound, "thread "+strconv.Quote(r.PathValue("thread_id"))+" not found")
		return
	}
	var to []wireParticipant
	entity := ""
	if msg == "" {
		to, msg = t.recipients(in)
		entity = t.entityType + "/" + t.entityID
	}
	if msg == "" && sh.attachments[entity]+len(atts) > maxAttachmentsPerEntity {
		msg = "miraklsim: more than 50 attachments for this entity"
	}
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if in.Topic != nil {
		t.topic = *in.Topic
	}
	m := sim.Must(s.appendMessage(sh, t, Shop, in.Body, to, atts, time.Time{})) // checked above
	sh.attachments[entity] += len(atts)
	writeJSON(w, http.StatusCreated, postResponse{MessageID: m.ID, ThreadID: t.id})
}

// postInput reads message_input and finds its thread, or says what is wrong with them; call with sh locked.
func (s *Server) postInput(r *http.Request, sh *shop) (in messageInput, t *thread, msg string) {
	raw, err := messageInputPart(r)
	switch {
	case err != nil:
		return in, nil, err.Error()
	case json.Unmarshal(raw, &in) != nil:
		return in, nil, "message_input is not valid JSON"
	case strings.TrimSpace(in.Body) == "":
		return in, nil, "message_input.body is required"
	case len(in.To) == 0:
		return in, nil, "message_input.to needs at least one recipient"
	case in.Topic != nil && (in.Topic.Value == "" || (in.Topic.Type != "FREE_TEXT" && in.Topic.Type != "REASON_CODE")):
		return in, nil, "message_input.topic needs a type FREE_TEXT or REASON_CODE and a value"
	}
	if t = sh.threads[r.PathValue("thread_id")]; t != nil && len(t.msgs) >= MaxMessagesPerThread {
		return in, t, errThreadFull.Error()
	}
	return in, t, ""
}

// messageInputPart finds message_input, a field or a file part (from clients giving it a JSON content type).
func messageInputPart(r *http.Request) ([]byte, error) {
	if v := r.MultipartForm.Value["message_input"]; len(v) > 0 {
		return []byte(v[0]), nil
	}
	if fhs := r.MultipartForm.File["message_input"]; len(fhs) > 0 {
		f, err := fhs[0].Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(f)
	}
	return nil, errors.New("the message_input part is required")
}

// recipients maps M12's to[] onto the thread's participants.
func (t *thread) recipients(in messageInput) ([]wireParticipant, string) {
	to := make([]wireParticipant, 0, len(in.To))
	seen := map[string]bool{}
	for _, rc := range in.To {
		if rc.Type == partShop {
			return nil, "message_input.to: the shop cannot write to itself"
		}
		i := slices.IndexFunc(t.authorized, func(p wireParticipant) bool { return p.Type == rc.Type })
		if i < 0 {
			return nil, "message_input.to: " + strconv.Quote(rc.Type) + " is not a participant of this thread"
		}
		p := t.authorized[i]
		if rc.ID != "" && p.ID != "" && rc.ID != p.ID {
			return nil, "message_input.to: unknown " + rc.Type + " id " + strconv.Quote(rc.ID)
		}
		if !seen[p.Type] {
			seen[p.Type] = true
			to = append(to, p)
		}
	}
	return to, ""
}

const (
	defaultLimit = 50
	// maxLimit is the SDK's for seek endpoints; refusing more catches clients expecting more.
	maxLimit     = 100
	tokenVersion = 1
)

type (
	// listQuery is an M11 query as a page token carries it.
	listQuery struct {
		Since        string   `json:"s,omitempty"` // RFC 3339, as received
		Limit        int      `json:"l"`
		WithMessages bool     `json:"m,omitempty"`
		EntityType   string   `json:"et,omitempty"`
		EntityIDs    []string `json:"ei,omitempty"`

		since   time.Time
		sinceNs int64
		ids     map[string]bool
	}
	// pageToken is the opaque page_token: the whole query, and a key to continue after (or before).
	pageToken struct {
		V    int       `json:"v"`
		Shop string    `json:"sh"`
		Q    listQuery `json:"q"`
		Back bool      `json:"b,omitempty"`
		Key  bool      `json:"k,omitempty"`
		Ns   int64     `json:"t,omitempty"`
		ID   string    `json:"id,omitempty"`
	}
)

func encodeToken(t pageToken) string { t.V = tokenVersion; return sim.EncodeToken(t) }

func decodeToken(s, shopID string) (pageToken, string) {
	var t pageToken
	if !sim.DecodeToken(s, &t) || t.V != tokenVersion || (t.Back && !t.Key) {
		return t, "invalid page_token"
	}
	if t.Shop != shopID {
		return t, "page_token belongs to another shop"
	}
	if msg := t.Q.prepare(); msg != "" {
		return t, "invalid page_token: " + msg
	}
	return t, ""
}

func (q *listQuery) prepare() string {
	if q.Limit < 1 || q.Limit > maxLimit {
		return "limit must be between 1 and " + strconv.Itoa(maxLimit)
	}
	if len(q.EntityIDs) > 0 && q.EntityType == "" {
		return "entity_id requires entity_type"
	}
	q.sinceNs = math.MinInt64
	if q.Since != "" {
		t, err := time.Parse(time.RFC3339Nano, q.Since)
		if err != nil {
			return "updated_since must be an RFC 3339 date-time"
		}
		q.since, q.sinceNs = t, t.UnixNano()
	}
	q.ids = nil
	if len(q.EntityIDs) > 0 {
		q.ids = make(map[string]bool, len(q.EntityIDs))
		for _, id := range q.EntityIDs {
			q.ids[id] = true
		}
	}
	return ""
}

func parseListQuery(v url.Values) (listQuery, string) {
	q := listQuery{Limit: defaultLimit, Since: v.Get("updated_since"), EntityType: v.Get("entity_type")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, "limit must be an integer"
		}
		q.Limit = n
	}
	if s := v.Get("with_messages"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, "with_messages must be true or false"
		}
		q.WithMessages = b
	}
	for _, list := range v["entity_id"] {
		for id := range strings.SplitSeq(list, ",") {
			if id = strings.TrimSpace(id); id != "" {
				q.EntityIDs = append(q.EntityIDs, id)
			}
		}
	}
	// channel_codes and sort are ignored: no sales channels, one order.
	return q, q.prepare()
}

func (q *listQuery) match(t *thread) bool {
	return t.updNs >= q.sinceNs && (q.EntityType == "" || t.entityType == q.EntityType) && (q.ids == nil || q.ids[t.entityID])
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, sh *shop) {
	v := r.URL.Query()
	var tok pageToken
	if raw := v.Get("page_token"); raw != "" {
		var msg string
		if tok, msg = decodeToken(raw, sh.id); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
	} else {
		q, msg := parseListQuery(v)
		if msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		tok = pageToken{Shop: sh.id, Q: q}
	}
	sh.RLock()
	resp := sh.page(&tok)
	sh.RUnlock()
	s.Add("listed", int64(len(resp.Data)))
	writeJSON(w, http.StatusOK, resp)
}

// page builds an M11 page from updated_since or the key: O(log n + limit) without filters.
func (sh *shop) page(tok *pageToken) listResponse {
	q := &tok.Q
	idx := sh.index.Items()
	from := 0
	if q.Since != "" {
		from = sh.index.Search(q.sinceNs, "")
	}
	found := func(lo, hi int) bool { return slices.ContainsFunc(idx[lo:hi], q.match) }
	var rows []*thread
	var next, prev bool
	if !tok.Back {
		start := from
		if tok.Key {
			start = max(start, sh.index.After(tok.Ns, tok.ID))
		}
		rows, next = sim.Scan(idx[start:], false, q.Limit, q.match)
		prev = tok.Key && len(rows) > 0 && found(from, start)
	} else {
		end := max(from, sh.index.Search(tok.Ns, tok.ID))
		rows, prev = sim.Scan(idx[from:end], true, q.Limit, q.match)
		slices.Reverse(rows)
		next = len(rows) > 0 && found(end, len(idx))
	}
	resp := listResponse{Data: sim.Map(rows, func(t *thread) wireThread { return t.wire(q.WithMessages, withMessagesLimit) })}
	if tok.Back && len(rows) == 0 {
		// Nothing before the key matches: start the walk again.
		resp.NextPageToken = encodeToken(pageToken{Shop: tok.Shop, Q: *q})
	}
	if next {
		last := rows[len(rows)-1]
		resp.NextPageToken = encodeToken(pageToken{Shop: tok.Shop, Q: *q, Key: true, Ns: last.updNs, ID: last.id})
	}
	if prev {
		first := rows[0]
		resp.PreviousPageToken = encodeToken(pageToken{Shop: tok.Shop, Q: *q, Back: true, Key: true, Ns: first.updNs, ID: first.id})
	}
	return resp
}

// The wire types mirror mirakl.md §3, shared between responses.

type (
	wireTopic struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	wireEntity struct {
		ID    string `json:"id"`
		Label string `json:"label"`
		Type  string `json:"type"`
	}
	// wireParticipant has no id for the operator.
	wireParticipant struct {
		DisplayName string `json:"display_name"`
		ID          string `json:"id,omitempty"`
		Type        string `json:"type"`
	}
	wireSender struct {
		DisplayName         string           `json:"display_name"`
		Type                string           `json:"type"`
		OrganizationDetails *wireParticipant `json:"organization_details,omitempty"`
	}
	wireAttachment struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Size int64  `json:"size"`
	}
	wireNoReply struct {
		Date     string `json:"date"`
		UserType string `json:"user_type"`
	}
	// message is the stored message and its JSON form, immutable once added.
	message struct {
		ID          string            `json:"id"`
		DateCreated string            `json:"date_created"`
		Body        string            `json:"body"`
		From        *wireSender       `json:"from"`
		To          []wireParticipant `json:"to"`
		Attachments []wireAttachment  `json:"attachments"`

		at   time.Time
		from SenderType
	}
	wireMetadata struct {
		// Left out of a thread without messages, which Mirakl's never are.
		LastMessageDate      string      `json:"last_message_date,omitempty"`
		LastSender           *wireSender `json:"last_sender,omitempty"`
		ShopReplyNeededSince *string     `json:"shop_reply_needed_since"`
		TotalCount           int         `json:"total_count"`
	}
	wireThread struct {
		ID                     string            `json:"id"`
		DateCreated            string            `json:"date_created"`
		DateUpdated            string            `json:"date_updated"`
		Topic                  wireTopic         `json:"topic"`
		Entities               []wireEntity      `json:"entities"`
		AuthorizedParticipants []wireParticipant `json:"authorized_participants"`
		CurrentParticipants    []wireParticipant `json:"current_participants"`
		Metadata               wireMetadata      `json:"metadata"`
		// omitzero: nil in M11 without with_messages, [] in M10.
		Messages           []*message    `json:"messages,omitzero"`
		NoStoreReplyNeeded []wireNoReply `json:"no_store_reply_needed,omitzero"`
	}
	listResponse struct {
		Data              []wireThread `json:"data"`
		NextPageToken     string       `json:"next_page_token,omitempty"`
		PreviousPageToken string       `json:"previous_page_token,omitempty"`
	}
	postResponse struct {
		MessageID string `json:"message_id"`
		ThreadID  string `json:"thread_id"`
	}
	// messageInput is M12's message_input part.
	messageInput struct {
		Body string `json:"body"`
		To   []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"to"`
		Topic *wireTopic `json:"topic"`
	}
	// errorBody is Mirakl's common error shape; the inbox APIs document none.
	errorBody struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
)
