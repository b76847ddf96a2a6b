package partizap

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// The response shapes of partizap.md §3. Unknown fields are ignored, and
// every scalar threadsync reads is decoded leniently: ids documented as
// integers may come as strings (a PHP backend sends "5012" as easily as
// 5012), so they are api.ID; texts, times and cursors are api.Text, kept
// as sent.

// list is the envelope of every list: {data, meta{has_more, next_cursor}}.
type list[T any] struct {
	Data []T   `json:"data"`
	Meta *meta `json:"meta"`
}

type meta struct {
	HasMore    *api.Bool `json:"has_more"`
	NextCursor api.Text  `json:"next_cursor"`
}

type conversation struct {
	ID           api.ID   `json:"id"`
	ProductID    api.ID   `json:"product_id"`
	Product      *product `json:"product"`
	Participants []user   `json:"participants"`
	LastMessage  *message `json:"last_message"`
	CreatedAt    api.Text `json:"created_at"`
	UpdatedAt    api.Text `json:"updated_at"`
}

type product struct {
	ID    api.ID   `json:"id"`
	Title api.Text `json:"title"`
}

type user struct {
	ID          api.ID   `json:"id"`
	DisplayName api.Text `json:"display_name"`
}

type message struct {
	ID             api.ID   `json:"id"`
	ConversationID api.ID   `json:"conversation_id"`
	SenderID       api.ID   `json:"sender_id"`
	Text           api.Text `json:"text"`
	ImageURL       api.Text `json:"image_url"`
	CreatedAt      api.Text `json:"created_at"`
}

// parseTime reads a Partizap time, whose format is undocumented: RFC 3339,
// ISO 8601 with an offset without a colon (PHP's DATE_ISO8601) or a space
// for the T, or a zone-less local time in loc, as pollers.ParseTime reads
// them, stray spaces around it ignored.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	return pollers.ParseTime(strings.TrimSpace(s), loc)
}

// mapper turns wire values into events for one account.
type mapper struct {
	userID string
	loc    *time.Location
}

// Roles of participants, seen from the account: the vendor is the owner.
const (
	roleVendor = "vendor"
	roleBuyer  = "buyer"
)

func (mp *mapper) role(id string) string {
	if id == mp.userID {
		return roleVendor
	}
	return roleBuyer
}

// item maps one conversation of the list.
func (mp *mapper) item(c *conversation) (pollers.Item, error) {
	id := string(c.ID)
	if id == "" {
		return pollers.Item{}, fmt.Errorf("%w: conversation without id", pollers.ErrMalformed)
	}
	created, err := parseTime(string(c.CreatedAt), mp.loc)
	if err != nil {
		return pollers.Item{}, fmt.Errorf("created_at: %w", err)
	}
	it := pollers.Item{
		Thread: events.Thread{
			ID: id, CreatedAt: created,
			Participants: make([]events.Participant, 0, len(c.Participants)),
		},
		UpdatedAt: created,
	}
	ref := string(c.ProductID)
	if p := c.Product; p != nil {
		it.Thread.Topic = string(p.Title)
		if ref == "" {
			ref = string(p.ID)
		}
	}
	if ref != "" {
		it.Thread.Reference = events.Reference{Type: "product", ID: ref}
	}
	for i := range c.Participants {
		p := &c.Participants[i]
		it.Thread.Participants = append(it.Thread.Participants, events.Participant{
			ID: string(p.ID), Name: string(p.DisplayName), Role: mp.role(string(p.ID)),
		})
	}
	if c.UpdatedAt != "" {
		if it.UpdatedAt, err = parseTime(string(c.UpdatedAt), mp.loc); err != nil {
			return pollers.Item{}, fmt.Errorf("updated_at: %w", err)
		}
	}
	// Reply state follows from the messages alone, so the newest message's
	// id is the whole change marker: updated_at also moves when the
	// conversation is read or its product edited, which brings nothing
	// new. Without a last_message (an empty conversation, or an API that
	// leaves it out) updated_at is all there is.
	if lm := c.LastMessage; lm != nil && lm.ID != "" {
		it.Version = "m:" + string(lm.ID)
		if it.LastMessageAt, err = parseTime(string(lm.CreatedAt), mp.loc); err != nil {
			return pollers.Item{}, fmt.Errorf("last_message %s: created_at: %w", lm.ID, err)
		}
		if it.LastMessageAt.After(it.UpdatedAt) {
			it.UpdatedAt = it.LastMessageAt
		}
	} else {
		it.Version = "u:" + string(c.UpdatedAt)
	}
	return it, nil
}

// message maps one message of thread t; names of senders come from t's
// participants.
func (mp *mapper) message(m *message, t *events.Thread) (events.Message, error) {
	id := string(m.ID)
	if id == "" {
		return events.Message{}, fmt.Errorf("%w: message without id", pollers.ErrMalformed)
	}
	if cid := string(m.ConversationID); cid != "" && cid != t.ID {
		// The path serves another conversation's messages: most likely a
		// wrong messages_path.
		return events.Message{}, fmt.Errorf("%w: message %s belongs to conversation %s", pollers.ErrMalformed, id, cid)
	}
	at, err := parseTime(string(m.CreatedAt), mp.loc)
	if err != nil {
		return events.Message{}, fmt.Errorf("message %s: created_at: %w", id, err)
	}
	sender := string(m.SenderID)
	em := events.Message{
		ID: id, CreatedAt: at, Direction: events.Inbound, Text: string(m.Text),
		Sender:      events.Participant{ID: sender, Role: mp.role(sender)},
		Attachments: []events.Attachment{},
	}
	// Only the account owner writes outbound; the buyer, and any sender the
	// API may add (a system notice without sender_id), are the other side.
	if sender != "" && sender == mp.userID {
		em.Direction = events.Outbound
	}
	for _, p := range t.Participants {
		if p.ID == sender {
			em.Sender.Name = p.Name
			break
		}
	}
	if u := string(m.ImageURL); u != "" {
		// The URL is what identifies the image and what a consumer fetches.
		em.Attachments = append(em.Attachments, events.Attachment{ID: u, Name: imageName(u)})
	}
	return em, nil
}

func imageName(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return path.Base(u)
}

// byTimeThenID is the order Messages returns: oldest first, and messages
// of the same second (the simulator's and probably the API's resolution) in
// id order, which is the order they were written.
func byTimeThenID(a, b events.Message) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return api.CompareIDs(a.ID, b.ID)
}

var errNoData = errors.New("no data array")
