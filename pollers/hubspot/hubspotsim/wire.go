package hubspotsim

import (
	"cmp"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
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

// writeJSON writes a response the way HubSpot does, with an error body in
// HubSpot's shape if v cannot be encoded.
var writeJSON = sim.JSON{
	ContentType:   "application/json;charset=utf-8",
	EncodingError: `{"status":"error","message":"encoding response","category":"INTERNAL_ERROR"}`,
}.Write

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
func (s *Server) uuid() string { return sim.UUID(s.corrSeq.Add(1)) }

// messageID returns an opaque, unique message id: sim.Mix is a
// bijection, so distinct counters give distinct ids.
func (s *Server) messageID() string {
	var b [8]byte
	x := sim.Mix(s.msgSeq.Add(1))
	for i := range 8 {
		b[i] = byte(x >> (56 - 8*i))
	}
	return hex.EncodeToString(b[:])
}

// faultError is HubSpot's body for an injected fault or a scheduled one:
// the rate-limit body with policyName policy (default PolicyBurst) for
// 429, the error body of the status's category otherwise.
func (s *Server) faultError(w http.ResponseWriter, status int, policy string) {
	if status != http.StatusTooManyRequests {
		s.writeError(w, status, defaultCategory(status), "injected fault: "+strconv.Itoa(status)+" "+http.StatusText(status))
		return
	}
	s.writeRateLimited(w, cmp.Or(policy, PolicyBurst))
}
