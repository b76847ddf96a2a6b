package miraklsim

import (
	"net/http"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// The wire types mirror mirakl.md §3. Everything that never changes once
// written (messages, participants, entities, formatted dates) is built once
// and shared between responses, so serving a page is mostly copying pointers.

type wireTopic struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type wireEntity struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Type  string `json:"type"`
}

// wireParticipant has no id for the operator.
type wireParticipant struct {
	DisplayName string `json:"display_name"`
	ID          string `json:"id,omitempty"`
	Type        string `json:"type"`
}

type wireSender struct {
	DisplayName         string           `json:"display_name"`
	Type                string           `json:"type"`
	OrganizationDetails *wireParticipant `json:"organization_details,omitempty"`
}

type wireAttachment struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

type wireNoReply struct {
	Date     string `json:"date"`
	UserType string `json:"user_type"`
}

// message is both the stored message and its JSON form. It is immutable once
// appended to a thread, which is what lets responses share it without a lock.
type message struct {
	ID          string            `json:"id"`
	DateCreated string            `json:"date_created"`
	Body        string            `json:"body"`
	From        *wireSender       `json:"from"`
	To          []wireParticipant `json:"to"`
	Attachments []wireAttachment  `json:"attachments"`

	at   time.Time
	from SenderType
}

type wireMetadata struct {
	// A thread created through AddThread has no message yet; Mirakl threads
	// always start with one, so leaving these out is the closest match.
	LastMessageDate      string      `json:"last_message_date,omitempty"`
	LastSender           *wireSender `json:"last_sender,omitempty"`
	ShopReplyNeededSince *string     `json:"shop_reply_needed_since"`
	TotalCount           int         `json:"total_count"`
}

type wireThread struct {
	ID                     string            `json:"id"`
	DateCreated            string            `json:"date_created"`
	DateUpdated            string            `json:"date_updated"`
	Topic                  wireTopic         `json:"topic"`
	Entities               []wireEntity      `json:"entities"`
	AuthorizedParticipants []wireParticipant `json:"authorized_participants"`
	CurrentParticipants    []wireParticipant `json:"current_participants"`
	Metadata               wireMetadata      `json:"metadata"`
	// omitzero leaves the fields out when nil (M11 without with_messages)
	// but keeps an empty, non-nil slice as [] (M10 of a quiet thread).
	Messages           []*message    `json:"messages,omitzero"`
	NoStoreReplyNeeded []wireNoReply `json:"no_store_reply_needed,omitzero"`
}

type listResponse struct {
	Data              []wireThread `json:"data"`
	NextPageToken     string       `json:"next_page_token,omitempty"`
	PreviousPageToken string       `json:"previous_page_token,omitempty"`
}

type postResponse struct {
	MessageID string `json:"message_id"`
	ThreadID  string `json:"thread_id"`
}

// messageInput is M12's message_input part.
type messageInput struct {
	Body string `json:"body"`
	To   []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"to"`
	Topic *wireTopic `json:"topic"`
}

// errorBody is the shape Mirakl errors commonly have; the API reference does
// not document one for the inbox APIs.
type errorBody struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

var (
	emptyMessages = []*message{}
	emptyNoReply  = []wireNoReply{}
)

// formatTime is how every date leaves the simulator: RFC 3339 in UTC with Z,
// fractional seconds only when there are some.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// writeJSON writes a response the way Mirakl does, with an error body in
// Mirakl's shape if v cannot be encoded.
var writeJSON = sim.JSON{EncodingError: `{"status":500,"message":"encoding response"}`}.Write

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Status: status, Message: msg})
}
