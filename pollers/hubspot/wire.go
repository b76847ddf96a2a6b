package hubspot

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// The response shapes of hubspot.md §3. Only the fields threadsync uses
// are decoded; unknown fields are ignored, because HubSpot adds fields
// without notice. HubSpot documents ids as strings but they are numbers in
// older APIs, so ids are api.ID; times and cursors are api.Text, kept as
// sent (a cursor goes back as it came, and a time may be epoch
// milliseconds).

type paging struct {
	Next *struct {
		After api.Text `json:"after"`
	} `json:"next"`
}

// after is the cursor of the next page; "" on the last page, where HubSpot
// leaves paging (or paging.next) out.
func afterOf(p *paging) string {
	if p == nil || p.Next == nil {
		return ""
	}
	return string(p.Next.After)
}

type threadList struct {
	Results []thread `json:"results"`
	Paging  *paging  `json:"paging"`
}

func (l *threadList) after() string { return afterOf(l.Paging) }

type thread struct {
	ID                             api.ID   `json:"id"`
	InboxID                        api.ID   `json:"inboxId"`
	Status                         string   `json:"status"`
	AssociatedContactID            api.ID   `json:"associatedContactId"`
	AssignedTo                     api.ID   `json:"assignedTo"`
	OriginalChannelID              api.ID   `json:"originalChannelId"`
	CreatedAt                      api.Text `json:"createdAt"`
	LatestMessageTimestamp         api.Text `json:"latestMessageTimestamp"`
	LatestMessageSentTimestamp     api.Text `json:"latestMessageSentTimestamp"`
	LatestMessageReceivedTimestamp api.Text `json:"latestMessageReceivedTimestamp"`
	ThreadAssociations             *struct {
		AssociatedTicketID api.ID `json:"associatedTicketId"`
	} `json:"threadAssociations"`
}

type messageList struct {
	Results []message `json:"results"`
	Paging  *paging   `json:"paging"`
}

func (l *messageList) after() string { return afterOf(l.Paging) }

type message struct {
	Type             string       `json:"type"`
	ID               api.ID       `json:"id"`
	CreatedAt        api.Text     `json:"createdAt"`
	CreatedBy        api.ID       `json:"createdBy"`
	Senders          []actor      `json:"senders"`
	Text             string       `json:"text"`
	Attachments      []attachment `json:"attachments"`
	TruncationStatus string       `json:"truncationStatus"`
	Direction        string       `json:"direction"`
}

type actor struct {
	ActorID api.ID `json:"actorId"`
	Name    string `json:"name"`
}

type attachment struct {
	FileID api.ID `json:"fileId"`
	Name   string `json:"name"`
	URL    string `json:"url"`
}

// originalContent is the body of .../messages/{id}/original-content; its
// shape is inferred (text and richText, like the message).
type originalContent struct {
	Text *string `json:"text"`
}

// item maps a listed thread. The version is made of the three
// latest-message times, which every new message moves, and the status: a
// closed thread needs no reply (hubspot.md: reply needed means OPEN and
// received after sent), so closing one ends its reply-needed episode and a
// visitor writing after that opens a new one.
func (t *thread) item() (pollers.Item, error) {
	if t.ID == "" {
		return pollers.Item{}, fmt.Errorf("%w: thread without id", pollers.ErrMalformed)
	}
	created, err := parseTime(t.CreatedAt)
	if err != nil {
		return pollers.Item{}, fmt.Errorf("createdAt: %w", err)
	}
	it := pollers.Item{
		Thread: events.Thread{
			ID: string(t.ID), CreatedAt: created,
			Participants: make([]events.Participant, 0, 2),
		},
		UpdatedAt: created,
		Version: string(t.LatestMessageTimestamp) + "|" + string(t.LatestMessageReceivedTimestamp) +
			"|" + string(t.LatestMessageSentTimestamp) + "|" + t.Status,
		Closed: strings.EqualFold(t.Status, "CLOSED"),
	}
	if t.LatestMessageTimestamp != "" {
		if it.LastMessageAt, err = parseTime(t.LatestMessageTimestamp); err != nil {
			return pollers.Item{}, fmt.Errorf("latestMessageTimestamp: %w", err)
		}
		// The incremental filter is on latestMessageTimestamp, so it is
		// the watermark too.
		it.UpdatedAt = it.LastMessageAt
	}
	for _, f := range []struct {
		name string
		v    api.Text
	}{{"latestMessageSentTimestamp", t.LatestMessageSentTimestamp}, {"latestMessageReceivedTimestamp", t.LatestMessageReceivedTimestamp}} {
		if f.v != "" {
			if _, err := parseTime(f.v); err != nil {
				return pollers.Item{}, fmt.Errorf("%s: %w", f.name, err)
			}
		}
	}
	switch {
	case t.ThreadAssociations != nil && t.ThreadAssociations.AssociatedTicketID != "":
		it.Thread.Reference = events.Reference{Type: "ticket", ID: string(t.ThreadAssociations.AssociatedTicketID)}
	case t.AssociatedContactID != "":
		it.Thread.Reference = events.Reference{Type: "contact", ID: string(t.AssociatedContactID)}
	}
	if t.AssociatedContactID != "" {
		it.Thread.Participants = append(it.Thread.Participants, events.Participant{ID: string(t.AssociatedContactID), Role: "contact"})
	}
	if t.AssignedTo != "" {
		it.Thread.Participants = append(it.Thread.Participants, events.Participant{ID: string(t.AssignedTo), Role: role(string(t.AssignedTo), events.Outbound)})
	}
	return it, nil
}

// message maps an entry of type MESSAGE whose createdAt is already parsed.
func (m *message) message(at time.Time) (events.Message, error) {
	if m.ID == "" {
		return events.Message{}, fmt.Errorf("%w: message without id", pollers.ErrMalformed)
	}
	var from actor
	if len(m.Senders) > 0 {
		from = m.Senders[0]
	}
	if from.ActorID == "" {
		from.ActorID = m.CreatedBy
	}
	d := direction(m.Direction, string(from.ActorID))
	em := events.Message{
		ID: string(m.ID), CreatedAt: at, Direction: d, Text: m.Text,
		Sender:      events.Participant{ID: string(from.ActorID), Name: from.Name, Role: role(string(from.ActorID), d)},
		Attachments: make([]events.Attachment, 0, len(m.Attachments)),
	}
	for _, a := range m.Attachments {
		// HubSpot gives no size; name falls back to the file's URL.
		name := a.Name
		if name == "" {
			name = a.URL
		}
		em.Attachments = append(em.Attachments, events.Attachment{ID: string(a.FileID), Name: name})
	}
	return em, nil
}

// isMessage tells conversation messages from the other entries of a
// thread's history: COMMENT (internal notes), WELCOME_MESSAGE, and system
// entries such as THREAD_STATUS_CHANGE or ASSIGNMENT.
func isMessage(typ string) bool { return strings.EqualFold(typ, "MESSAGE") }

// truncated reports whether HubSpot cut the text (any truncationStatus
// but NOT_TRUNCATED).
func truncated(status string) bool {
	return status != "" && !strings.EqualFold(status, "NOT_TRUNCATED")
}

// direction maps HubSpot's direction. Without one, the sender's actor id
// decides: agents (A-), bots (B-), integrations (I-) and the system (S-)
// write for the account; visitors (V-), e-mail senders (E-) and anyone
// else are the other side.
func direction(dir, actorID string) events.Direction {
	switch strings.ToUpper(dir) {
	case "OUTGOING":
		return events.Outbound
	case "INCOMING":
		return events.Inbound
	}
	switch actorKind(actorID) {
	case 'A', 'B', 'I', 'S':
		return events.Outbound
	}
	return events.Inbound
}

// role names the kind of actor from its id prefix, else from the side.
func role(actorID string, d events.Direction) string {
	switch actorKind(actorID) {
	case 'A':
		return "agent"
	case 'V':
		return "visitor"
	case 'B':
		return "bot"
	case 'I':
		return "integration"
	case 'S':
		return "system"
	case 'E':
		return "email"
	}
	if d == events.Outbound {
		return "agent"
	}
	return "visitor"
}

// actorKind is the letter of an actor id such as "A-4242", or 0.
func actorKind(id string) byte {
	if len(id) >= 2 && id[1] == '-' {
		return id[0] &^ 0x20 // upper case
	}
	return 0
}

// parseTime reads HubSpot's ISO 8601 times leniently, and epoch
// milliseconds, which older HubSpot APIs use.
func parseTime(s api.Text) (time.Time, error) {
	if s != "" && strings.Trim(string(s), "0123456789") == "" {
		if ms, err := strconv.ParseInt(string(s), 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
	}
	return pollers.ParseTime(string(s), time.UTC)
}
