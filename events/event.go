package events

import (
	"crypto/sha1"
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
	// ReplyResolved ends an episode announced with ReplyNeeded.
	ReplyResolved Type = "ReplyResolved"
	// ReplySLAWarning says an open episode nears its policy's deadline.
	ReplySLAWarning Type = "ReplySLAWarning"
	// ReplySLABreached says an episode is still open at its deadline.
	ReplySLABreached Type = "ReplySLABreached"
)

// Types lists every event type threadsync publishes.
var Types = []Type{ThreadCreated, MessageReceived, ReplyNeeded, ReplyResolved, ReplySLAWarning, ReplySLABreached,
	AccountFailing, AccountRecovered, AccountPaused, AccountResumed, AccountStateLost}

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
	case ReplyResolved:
		return "reply.resolved"
	case ReplySLAWarning:
		return "reply.sla_warning"
	case ReplySLABreached:
		return "reply.sla_breached"
	case AccountFailing:
		return "account.failing"
	case AccountRecovered:
		return "account.recovered"
	case AccountPaused:
		return "account.paused"
	case AccountResumed:
		return "account.resumed"
	case AccountStateLost:
		return "account.state_lost"
	}
	return ""
}

// SchemaID is the value of the envelope's dataschema for events of this type;
// it is also the $id of the JSON Schema in package schemas.
func (t Type) SchemaID() string { return schemaBase + t.suffix() + schemaVersion }

const (
	schemaBase    = "https://threadsync.dev/schemas/"
	schemaVersion = ".v1.json"
)

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
// same fact always gets the same id, across restarts and replicas. It is
// uuid.NewSHA1(idSpace, provider NUL account NUL type (NUL part)...) in
// its canonical form, computed without the allocations of the generic
// hash (every event pays for it).
func eventID(o Origin, t Type, parts ...string) string {
	n := len(idSpace) + len(o.Provider) + len(o.Account) + len(t) + 2
	for _, p := range parts {
		n += len(p) + 1
	}
	var buf [256]byte
	var b []byte
	if n <= len(buf) {
		b = buf[:0]
	} else {
		b = make([]byte, 0, n)
	}
	b = append(b, idSpace[:]...)
	b = append(b, o.Provider...)
	b = append(b, 0)
	b = append(b, o.Account...)
	b = append(b, 0)
	b = append(b, t...)
	for _, p := range parts {
		b = append(b, 0)
		b = append(b, p...)
	}
	sum := sha1.Sum(b)
	var id uuid.UUID
	copy(id[:], sum[:16])
	id[6] = (id[6] & 0x0f) | 0x50 // version 5
	id[8] = (id[8] & 0x3f) | 0x80 // RFC 4122 variant
	return id.String()
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
	// Set when a reply policy applies to the account.
	Policy string     `json:"policy,omitempty"`
	DueAt  *time.Time `json:"due_at,omitempty"`
	WarnAt *time.Time `json:"warn_at,omitempty"`
}

// SLA is the deadline a reply policy gives one episode.
type SLA struct {
	Policy string
	DueAt  time.Time
	// WarnAt is when a warning is due; zero for a policy without one.
	WarnAt time.Time
}

// ReplySLAData is the data of ReplySLAWarning and ReplySLABreached events.
type ReplySLAData struct {
	Provider    string    `json:"provider"`
	Account     string    `json:"account"`
	ThreadID    string    `json:"thread_id"`
	NeededSince time.Time `json:"needed_since"`
	DueAt       time.Time `json:"due_at"`
	Policy      string    `json:"policy"`
	// Confirmed: a poll made at the warning's or the deadline's time
	// found the episode still open. False when polls failed and the event
	// was published after the grace period on the last state known.
	Confirmed *bool `json:"confirmed,omitempty"`
}

// Resolution says how a reply-needed episode ended.
type Resolution string

// The ways an episode ends.
const (
	// Answered: the owner wrote in the thread.
	Answered Resolution = "answered"
	// Closed: the thread was closed (HubSpot's CLOSED).
	Closed Resolution = "closed"
	// NoReplyNeeded: the provider says no reply is needed any more
	// (Mirakl's "no reply needed" action).
	NoReplyNeeded Resolution = "no_reply_needed"
)

// ReplyResolvedData is the data of a ReplyResolved event.
type ReplyResolvedData struct {
	Provider        string     `json:"provider"`
	Account         string     `json:"account"`
	ThreadID        string     `json:"thread_id"`
	NeededSince     time.Time  `json:"needed_since"`
	ResolvedAt      time.Time  `json:"resolved_at"`
	Resolution      Resolution `json:"resolution"`
	AnswerMessageID string     `json:"answer_message_id,omitempty"`
	ResponseSeconds float64    `json:"response_seconds"`
	// Set when a reply policy applied to the episode.
	Policy    string     `json:"policy,omitempty"`
	DueAt     *time.Time `json:"due_at,omitempty"`
	WithinSLA *bool      `json:"within_sla,omitempty"`
	// BusinessSeconds is the response time counted in the policy's
	// calendar's open hours; set when the policy has a calendar.
	BusinessSeconds *float64 `json:"business_seconds,omitempty"`
}

// Resolved describes the end of an episode, for NewReplyResolved.
type Resolved struct {
	NeededSince     time.Time
	At              time.Time
	How             Resolution
	AnswerMessageID string
	// SLA is the episode's deadline; nil when no policy applied.
	SLA *SLA
	// Business is the response time in open hours; negative when the
	// policy has no calendar.
	Business time.Duration
}

// Event is one event ready to publish.
type Event struct {
	ID      string // deterministic; also the Nats-Msg-Id
	Type    Type
	Subject string // NATS subject
	Source  string
	Thread  string // the CloudEvents subject: the provider's thread id, or the account's for account events
	Time    time.Time
	// TraceParent and TraceState are the W3C trace context of the
	// event's publishing span (the CloudEvents distributed tracing
	// extension); empty when it was published untraced.
	TraceParent, TraceState string
	Data                    any // *ThreadCreatedData, *MessageReceivedData, *ReplyNeededData, *ReplyResolvedData, *ReplySLAData or *AccountData
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
		ID: episodeID(o, ReplyNeeded, threadID, neededSince), Type: ReplyNeeded,
		Subject: o.Subject(ReplyNeeded), Source: o.Source(), Thread: threadID, Time: neededSince,
		Data: &ReplyNeededData{Provider: o.Provider, Account: o.Account, ThreadID: threadID,
			NeededSince: neededSince, LastInboundMessageID: lastInbound},
	}
}

// WithSLA returns the ReplyNeeded event e with its episode's deadline.
func (e Event) WithSLA(s SLA) Event {
	d, ok := e.Data.(*ReplyNeededData)
	if !ok {
		return e
	}
	c := *d
	c.Policy = s.Policy
	c.DueAt = utcPtr(s.DueAt)
	if !s.WarnAt.IsZero() {
		c.WarnAt = utcPtr(s.WarnAt)
	}
	e.Data = &c
	return e
}

func utcPtr(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}

func episodeID(o Origin, t Type, threadID string, neededSince time.Time) string {
	return eventID(o, t, threadID, neededSince.UTC().Format(time.RFC3339Nano))
}

// NewReplySLAWarning builds the warning that an open episode nears its
// deadline; its time is the warning's. confirmed as for a breach.
func NewReplySLAWarning(o Origin, threadID string, neededSince time.Time, s SLA, confirmed bool) Event {
	return newSLAEvent(o, ReplySLAWarning, threadID, neededSince, s, s.WarnAt, &confirmed)
}

// NewReplySLABreached builds the breach of an episode still open at its
// deadline; its time is the deadline.
func NewReplySLABreached(o Origin, threadID string, neededSince time.Time, s SLA, confirmed bool) Event {
	return newSLAEvent(o, ReplySLABreached, threadID, neededSince, s, s.DueAt, &confirmed)
}

func newSLAEvent(o Origin, t Type, threadID string, neededSince time.Time, s SLA, at time.Time, confirmed *bool) Event {
	neededSince = neededSince.UTC()
	return Event{
		ID: episodeID(o, t, threadID, neededSince), Type: t,
		Subject: o.Subject(t), Source: o.Source(), Thread: threadID, Time: at.UTC(),
		Data: &ReplySLAData{Provider: o.Provider, Account: o.Account, ThreadID: threadID,
			NeededSince: neededSince, DueAt: s.DueAt.UTC(), Policy: s.Policy, Confirmed: confirmed},
	}
}

// NewReplyResolved builds the end of an episode; one per episode, its id
// from the thread and the episode's start.
func NewReplyResolved(o Origin, threadID string, r Resolved) Event {
	since, at := r.NeededSince.UTC(), r.At.UTC()
	d := &ReplyResolvedData{Provider: o.Provider, Account: o.Account, ThreadID: threadID,
		NeededSince: since, ResolvedAt: at, Resolution: r.How, AnswerMessageID: r.AnswerMessageID,
		ResponseSeconds: seconds(max(at.Sub(since), 0))}
	if r.SLA != nil {
		within := !at.After(r.SLA.DueAt)
		d.Policy, d.DueAt, d.WithinSLA = r.SLA.Policy, utcPtr(r.SLA.DueAt), &within
		if r.Business >= 0 {
			b := seconds(r.Business)
			d.BusinessSeconds = &b
		}
	}
	return Event{
		ID: episodeID(o, ReplyResolved, threadID, since), Type: ReplyResolved,
		Subject: o.Subject(ReplyResolved), Source: o.Source(), Thread: threadID, Time: at, Data: d,
	}
}

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

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
	TraceParent     string          `json:"traceparent,omitempty"`
	TraceState      string          `json:"tracestate,omitempty"`
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
	TraceParent     string    `json:"traceparent,omitempty"`
	TraceState      string    `json:"tracestate,omitempty"`
	Data            any       `json:"data"`
}

// MarshalJSON encodes the event as a CloudEvents 1.0 JSON envelope.
func (e Event) MarshalJSON() ([]byte, error) {
	return appendEnvelope(make([]byte, 0, 1024), &e)
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
// *ThreadCreatedData, *MessageReceivedData, *ReplyNeededData,
// *ReplyResolvedData, *ReplySLAData or *AccountData.
func DecodeData(env Envelope) (any, error) {
	var d any
	switch env.Type {
	case ThreadCreated:
		d = new(ThreadCreatedData)
	case MessageReceived:
		d = new(MessageReceivedData)
	case ReplyNeeded:
		d = new(ReplyNeededData)
	case ReplyResolved:
		d = new(ReplyResolvedData)
	case ReplySLAWarning, ReplySLABreached:
		d = new(ReplySLAData)
	case AccountFailing, AccountRecovered, AccountPaused, AccountResumed, AccountStateLost:
		d = new(AccountData)
	default:
		return nil, fmt.Errorf("unknown event type %q", env.Type)
	}
	if err := json.Unmarshal(env.Data, d); err != nil {
		return nil, fmt.Errorf("decode %s data: %w", env.Type, err)
	}
	return d, nil
}
