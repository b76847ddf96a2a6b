package hubspotsim

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The wire types mirror hubspot.md §3. What never changes once written
// (messages, actors, formatted dates) is built once and shared between
// responses.

type wireDelivery struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type wireActor struct {
	ActorID            string        `json:"actorId"`
	Name               string        `json:"name,omitempty"`
	DeliveryIdentifier *wireDelivery `json:"deliveryIdentifier,omitempty"`
}

type wireClient struct {
	ClientType string `json:"clientType"`
}

type wireStatus struct {
	StatusType string `json:"statusType"`
}

type wireAttachment struct {
	FileID        string `json:"fileId"`
	FileUsageType string `json:"fileUsageType"`
	Name          string `json:"name"`
	Type          string `json:"type"`
	URL           string `json:"url"`
}

// wireMessage is an entry of a thread's history: a MESSAGE, or a COMMENT
// or WELCOME_MESSAGE. Fields a kind does not have are left out.
type wireMessage struct {
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

type wireAssociations struct {
	AssociatedTicketID string `json:"associatedTicketId"`
}

type wireThread struct {
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

type wireNext struct {
	After string `json:"after"`
	Link  string `json:"link"`
}

type wirePaging struct {
	Next wireNext `json:"next"`
}

// listResponse is HubSpot's v3 collection envelope; paging is left out on
// the last page.
type listResponse[T any] struct {
	Results []T         `json:"results"`
	Paging  *wirePaging `json:"paging,omitempty"`
}

type wireOriginal struct {
	Text     string `json:"text"`
	RichText string `json:"richText"`
}

// errorBody is HubSpot's error shape (hubspot.md §7).
type errorBody struct {
	Status        string        `json:"status"`
	Message       string        `json:"message"`
	CorrelationID string        `json:"correlationId"`
	Category      string        `json:"category"`
	Errors        []errorDetail `json:"errors,omitempty"`
}

type errorDetail struct {
	Message string         `json:"message"`
	In      string         `json:"in,omitempty"`
	Context map[string]any `json:"context,omitempty"`
}

// rateLimitBody is the 429 body (hubspot.md §6), fields in the documented
// order.
type rateLimitBody struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	ErrorType     string `json:"errorType"`
	CorrelationID string `json:"correlationId"`
	PolicyName    string `json:"policyName"`
	RequestID     string `json:"requestId"`
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
	// PolicyBurst is the rolling 10-second window (per app, here per token).
	PolicyBurst = "TEN_SECONDLY_ROLLING"
	// PolicyDaily is the daily allowance of the account.
	PolicyDaily = "DAILY"
)

// formatTime is how every date leaves the simulator: RFC 3339 in UTC with
// Z, milliseconds only when there are some.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON encodes into a pooled buffer first so the response carries a
// Content-Length and an encoding error can still become a 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		http.Error(w, `{"status":"error","message":"encoding response","category":"INTERNAL_ERROR"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// correlationID is the response's X-HubSpot-Correlation-Id, set here if the
// request got none yet; error bodies repeat it.
func (s *Server) correlationID(w http.ResponseWriter) string {
	id := w.Header().Get("X-HubSpot-Correlation-Id")
	if id == "" {
		id = s.uuid()
		w.Header().Set("X-HubSpot-Correlation-Id", id)
	}
	return id
}

func (s *Server) writeError(w http.ResponseWriter, status int, category, msg string, details ...errorDetail) {
	writeJSON(w, status, errorBody{
		Status: "error", Message: msg, CorrelationID: s.correlationID(w),
		Category: category, Errors: details,
	})
}

func (s *Server) writeRateLimited(w http.ResponseWriter, policy string) {
	msg := "You have reached your " + strings.ToLower(policy) + " limit."
	if policy == PolicyDaily {
		msg = "You have reached your daily limit."
	}
	corr := s.correlationID(w)
	writeJSON(w, http.StatusTooManyRequests, rateLimitBody{
		Status: "error", Message: msg, ErrorType: "RATE_LIMIT",
		CorrelationID: corr, PolicyName: policy, RequestID: s.uuid(),
	})
}

// defaultCategory is the category of an error body the simulator makes up
// for a status (injected faults without a body).
func defaultCategory(status int) string {
	switch status {
	case http.StatusBadRequest:
		return catValidation
	case http.StatusUnauthorized:
		return catAuth
	case http.StatusForbidden:
		return catScopes
	case http.StatusNotFound:
		return catNotFound
	}
	return catInternal
}

// uuid returns a UUID-shaped id for correlation and request ids: from a
// counter through a mixing function, so runs are reproducible.
func (s *Server) uuid() string {
	n := s.corrSeq.Add(1)
	hi, lo := splitmix64(n), splitmix64(n^0x6a09e667f3bcc909)
	var b [16]byte
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// messageID returns an opaque, unique message id: splitmix64 is a
// bijection, so distinct counters give distinct ids.
func (s *Server) messageID() string {
	var b [8]byte
	x := splitmix64(s.msgSeq.Add(1))
	for i := range 8 {
		b[i] = byte(x >> (56 - 8*i))
	}
	return hex.EncodeToString(b[:])
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
