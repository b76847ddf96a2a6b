package mirakl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
)

// The M11/M10 response shapes, as documented. Unknown fields are ignored:
// Mirakl adds fields without notice.
type threadList struct {
	Data          []thread `json:"data"`
	NextPageToken string   `json:"next_page_token"`
}

type thread struct {
	ID                  string        `json:"id"`
	DateCreated         string        `json:"date_created"`
	DateUpdated         string        `json:"date_updated"`
	Topic               topic         `json:"topic"`
	Entities            []entity      `json:"entities"`
	CurrentParticipants []participant `json:"current_participants"`
	Metadata            metadata      `json:"metadata"`
	Messages            []message     `json:"messages"`
}

type topic struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type entity struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Type  string `json:"type"`
}

type participant struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Type        string `json:"type"`
}

type metadata struct {
	LastMessageDate      string  `json:"last_message_date"`
	ShopReplyNeededSince *string `json:"shop_reply_needed_since"`
	TotalCount           int     `json:"total_count"`
}

type sender struct {
	DisplayName string `json:"display_name"`
	Type        string `json:"type"`
	Org         *struct {
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
		Type        string `json:"type"`
	} `json:"organization_details"`
}

type message struct {
	ID          string       `json:"id"`
	DateCreated string       `json:"date_created"`
	Body        string       `json:"body"`
	From        sender       `json:"from"`
	Attachments []attachment `json:"attachments"`
}

type attachment struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

func (t *thread) item() (pollers.Item, error) {
	if t.ID == "" {
		return pollers.Item{}, fmt.Errorf("%w: thread without id", pollers.ErrMalformed)
	}
	created, err := pollers.ParseTime(t.DateCreated, nil)
	if err != nil {
		return pollers.Item{}, fmt.Errorf("date_created: %w", err)
	}
	updated, err := pollers.ParseTime(t.DateUpdated, nil)
	if err != nil {
		return pollers.Item{}, fmt.Errorf("date_updated: %w", err)
	}
	it := pollers.Item{
		Thread: events.Thread{
			ID: t.ID, CreatedAt: created, Topic: t.Topic.Value,
			Participants: make([]events.Participant, 0, len(t.CurrentParticipants)),
		},
		UpdatedAt: updated,
	}
	if len(t.Entities) > 0 {
		it.Thread.Reference = events.Reference{Type: t.Entities[0].Type, ID: t.Entities[0].ID}
	}
	for _, p := range t.CurrentParticipants {
		it.Thread.Participants = append(it.Thread.Participants, events.Participant{ID: p.ID, Name: p.DisplayName, Role: role(p.Type)})
	}
	if md := t.Metadata.LastMessageDate; md != "" {
		if it.LastMessageAt, err = pollers.ParseTime(md, nil); err != nil {
			return pollers.Item{}, fmt.Errorf("metadata.last_message_date: %w", err)
		}
	}
	since := ""
	if s := t.Metadata.ShopReplyNeededSince; s != nil && *s != "" {
		ts, err := pollers.ParseTime(*s, nil)
		if err != nil {
			return pollers.Item{}, fmt.Errorf("metadata.shop_reply_needed_since: %w", err)
		}
		it.ReplyNeededSince, since = &ts, *s
	}
	// Every new message moves date_updated and total_count; the reply
	// flag can change on its own (a "no reply needed" action).
	it.Version = t.DateUpdated + "|" + strconv.Itoa(t.Metadata.TotalCount) + "|" + since
	if t.Messages != nil {
		if it.Messages, err = mapMessages(t.Messages); err != nil {
			return pollers.Item{}, err
		}
		it.MessagesComplete = len(t.Messages) >= t.Metadata.TotalCount
	}
	return it, nil
}

func mapMessages(ms []message) ([]events.Message, error) {
	out := make([]events.Message, 0, len(ms))
	for i := range ms {
		m := &ms[i]
		if m.ID == "" {
			return nil, fmt.Errorf("%w: message %d without id", pollers.ErrMalformed, i)
		}
		at, err := pollers.ParseTime(m.DateCreated, nil)
		if err != nil {
			return nil, fmt.Errorf("message %s: date_created: %w", m.ID, err)
		}
		em := events.Message{
			ID: m.ID, CreatedAt: at, Direction: direction(m.From.Type), Text: m.Body,
			Sender:      events.Participant{Name: m.From.DisplayName, Role: role(m.From.Type)},
			Attachments: make([]events.Attachment, 0, len(m.Attachments)),
		}
		if m.From.Org != nil {
			em.Sender.ID = m.From.Org.ID
		}
		for _, a := range m.Attachments {
			em.Attachments = append(em.Attachments, events.Attachment{ID: a.ID, Name: a.Name, Size: a.Size})
		}
		out = append(out, em)
	}
	return out, nil
}

// direction: only the shop's own users write outbound; customers,
// operators and any type Mirakl adds later are the other side.
func direction(fromType string) events.Direction {
	if fromType == "SHOP_USER" || fromType == "SHOP" {
		return events.Outbound
	}
	return events.Inbound
}

// role turns CUSTOMER_USER / CUSTOMER into "customer", and so on.
func role(t string) string {
	return strings.ToLower(strings.TrimSuffix(t, "_USER"))
}
