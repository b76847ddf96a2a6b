package events

import "time"

// Direction tells who wrote a message, seen from the account owner.
type Direction string

const (
	// Inbound messages are written by the other side: customer, buyer, operator.
	Inbound Direction = "inbound"
	// Outbound messages are written by the account owner.
	Outbound Direction = "outbound"
)

// Participant is a person or party taking part in a thread.
type Participant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// Reference is the business object a thread is about (an order, an offer, a listing).
type Reference struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Thread is a conversation, normalized across providers.
type Thread struct {
	ID           string        `json:"id"`
	CreatedAt    time.Time     `json:"created_at"`
	Topic        string        `json:"topic"`
	Reference    Reference     `json:"reference"`
	Participants []Participant `json:"participants"`
}

// Attachment is a file attached to a message.
type Attachment struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Message is one message of a thread, normalized across providers.
type Message struct {
	ID          string       `json:"id"`
	CreatedAt   time.Time    `json:"created_at"`
	Direction   Direction    `json:"direction"`
	Sender      Participant  `json:"sender"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments"`
}
