package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// Type is the CloudEvents type of an event.
type Type string

// The event types threadsync publishes.
const (
	ThreadCreated   Type = "ThreadCreated"
	MessageReceived Type = "MessageReceived"
	ReplyNeeded     Type = "ReplyNeeded"
)

// SubjectSuffix is the part of the NATS subject after the account token,
// e.g. "message.received".
func (t Type) SubjectSuffix() string { return t.suffix() }

func (t Type) suffix() string {
	switch t {
	case ThreadCreated:
		return "thread.created"
	case MessageReceived:
		return "message.received"
	case ReplyNeeded:
		return "reply.needed"
	}
	return ""
}

// SchemaID is the value of the envelope's dataschema for events of this type;
// it is also the $id of the JSON Schema in package schemas.
func (t Type) SchemaID() string {
	return "https://threadsync.dev/schemas/" + t.suffix() + ".v1.json"
}

// ErrInvalidToken is returned when a value cannot be used as a subject token or key part.
var ErrInvalidToken = errors.New("invalid token")

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidToken reports an error unless s is safe as one NATS subject token and
// one part of a Redis key: 1 to 64 letters, digits, '_' or '-'. It rules out
// '.', '*', '>', whitespace, ':' and braces, so an account id cannot inject
// subject tokens, wildcards or key separators.
func ValidToken(what, s string) error {
	if !tokenRE.MatchString(s) {
		return fmt.Errorf("%w: %s %q must match %s", ErrInvalidToken, what, s, tokenRE)
	}
	return nil
}

// Origin identifies the account an event comes from.
type Origin struct {
	Prefix   string // first subject token, e.g. "inbox"
	Provider string
	Account  string
}

// Validate checks that every part of the origin is a valid subject token.
func (o Origin) Validate() error {
	return errors.Join(
		validSubjectPrefix(o.Prefix),
		ValidToken("provider", o.Provider),
		ValidToken("account", o.Account),
	)
}

func validSubjectPrefix(p string) error {
	// The prefix may itself span tokens ("acme.inbox"), each a valid token.
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '.' {
			if err := ValidToken("subject prefix token", p[start:i]); err != nil {
				return err
			}
			start = i + 1
		}
	}
	return nil
}

// Subject is the NATS subject events of type t from this origin are published on:
// <prefix>.<provider>.<account>.thread.created and so on.
func (o Origin) Subject(t Type) string {
	return o.Prefix + "." + o.Provider + "." + o.Account + "." + t.suffix()
}

// Source is the CloudEvents source: threadsync/<provider>/<account>.
func (o Origin) Source() string { return "threadsync/" + o.Provider + "/" + o.Account }

// idSpace is the UUID namespace of event ids; changing it changes every id.
var idSpace = uuid.MustParse("5b0c2a5e-7c1f-4e53-9b1e-6f1f3f6d7a10")

// eventID derives a version-5 UUID from the fact an event states, so that the
// same fact always gets the same id, across restarts and replicas.
func eventID(o Origin, t Type, parts ...string) string {
	n := len(o.Provider) + len(o.Account) + len(t) + 3
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, o.Provider...)
	b = append(b, 0)
	b = append(b, o.Account...)
	b = append(b, 0)
	b = append(b, t...)
	for _, p := range parts {
		b = append(b, 0)
		b = append(b, p...)
	}
	return uuid.NewSHA1(idSpace, b).String()
}

// ThreadCreatedData is the data of a ThreadCreated event.
type ThreadCreatedData struct {
	Provider string `json:"provider"`
	Account  string `json:"account"`
	ThreadID string `json:"thread_id"`
	Thread   Thread `json:"thread"`
}

// MessageReceivedData is the data of a MessageReceived event.
type MessageReceivedData struct {
	Provider string  `json:"provider"`
	Account  string  `json:"account"`
	ThreadID string  `json:"thread_id"`
	Message  Message `json:"message"`
}

// ReplyNeededData is the data of a ReplyNeeded event.
type ReplyNeededData struct {
	Provider             string    `json:"provider"`
	Account              string    `json:"account"`
	ThreadID             string    `json:"thread_id"`
	NeededSince          time.Time `json:"needed_since"`
	LastInboundMessageID string    `json:"last_inbound_message_id"`
}

// Event is one event ready to publish.
type Event struct {
	ID      string // deterministic; also the Nats-Msg-Id
	Type    Type
	Subject string // NATS subject
	Source  string
	Thread  string // provider's thread id: the CloudEvents subject
	Time    time.Time
	Data    any // *ThreadCreatedData, *MessageReceivedData or *ReplyNeededData
}

// NewThreadCreated builds the ThreadCreated event of a thread.
func NewThreadCreated(o Origin, t Thread) Event {
	t.CreatedAt = t.CreatedAt.UTC()
	if t.Participants == nil {
		t.Participants = []Participant{}
	}
	return Event{
		ID: eventID(o, ThreadCreated, t.ID), Type: ThreadCreated,
		Subject: o.Subject(ThreadCreated), Source: o.Source(), Thread: t.ID, Time: t.CreatedAt,
		Data: &ThreadCreatedData{Provider: o.Provider, Account: o.Account, ThreadID: t.ID, Thread: t},
	}
}

// NewMessageReceived builds the MessageReceived event of a message of a thread.
func NewMessageReceived(o Origin, threadID string, m Message) Event {
	m.CreatedAt = m.CreatedAt.UTC()
	if m.Attachments == nil {
		m.Attachments = []Attachment{}
	}
	return Event{
		ID: eventID(o, MessageReceived, threadID, m.ID), Type: MessageReceived,
		Subject: o.Subject(MessageReceived), Source: o.Source(), Thread: threadID, Time: m.CreatedAt,
		Data: &MessageReceivedData{Provider: o.Provider, Account: o.Account, ThreadID: threadID, Message: m},
	}
}

// NewReplyNeeded builds the ReplyNeeded event of one reply-needed episode of a
// thread. The id derives from the thread and neededSince, so one episode yields
// one event however often it is seen.
func NewReplyNeeded(o Origin, threadID string, neededSince time.Time, lastInbound string) Event {
	neededSince = neededSince.UTC()
	return Event{
		ID: eventID(o, ReplyNeeded, threadID, neededSince.Format(time.RFC3339Nano)), Type: ReplyNeeded,
		Subject: o.Subject(ReplyNeeded), Source: o.Source(), Thread: threadID, Time: neededSince,
		Data: &ReplyNeededData{Provider: o.Provider, Account: o.Account, ThreadID: threadID,
			NeededSince: neededSince, LastInboundMessageID: lastInbound},
	}
}

// Envelope is the CloudEvents 1.0 structured-mode JSON form of an event.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            Type            `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema"`
	Data            json.RawMessage `json:"data"`
}

type envelopeOut struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            Type      `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	DataSchema      string    `json:"dataschema"`
	Data            any       `json:"data"`
}

// MarshalJSON encodes the event as a CloudEvents 1.0 JSON envelope.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(envelopeOut{
		SpecVersion: "1.0", ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Thread,
		Time: e.Time.UTC(), DataContentType: "application/json", DataSchema: e.Type.SchemaID(), Data: e.Data,
	})
}

// ParseEnvelope decodes a CloudEvents envelope as published by threadsync.
func ParseEnvelope(b []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return env, fmt.Errorf("parse event envelope: %w", err)
	}
	if env.SpecVersion != "1.0" || env.ID == "" || env.Type == "" {
		return env, fmt.Errorf("parse event envelope: not a CloudEvents 1.0 event (specversion %q, id %q, type %q)",
			env.SpecVersion, env.ID, env.Type)
	}
	return env, nil
}

// DecodeData decodes an envelope's data into the type its event type names:
// *ThreadCreatedData, *MessageReceivedData or *ReplyNeededData.
func DecodeData(env Envelope) (any, error) {
	var d any
	switch env.Type {
	case ThreadCreated:
		d = new(ThreadCreatedData)
	case MessageReceived:
		d = new(MessageReceivedData)
	case ReplyNeeded:
		d = new(ReplyNeededData)
	default:
		return nil, fmt.Errorf("unknown event type %q", env.Type)
	}
	if err := json.Unmarshal(env.Data, d); err != nil {
		return nil, fmt.Errorf("decode %s data: %w", env.Type, err)
	}
	return d, nil
}
