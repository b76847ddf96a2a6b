package partizap

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
)

// The response shapes of partizap.md §3. Unknown fields are ignored, and
// every scalar threadsync reads is decoded leniently: ids documented as
// integers may come as strings, and the time format is undocumented.

// list is the envelope of every list: {data, meta{has_more, next_cursor}}.
type list[T any] struct {
	Data []T   `json:"data"`
	Meta *meta `json:"meta"`
}

type meta struct {
	HasMore    *flexBool  `json:"has_more"`
	NextCursor flexString `json:"next_cursor"`
}

type conversation struct {
	ID           flexString `json:"id"`
	ProductID    flexString `json:"product_id"`
	Product      *product   `json:"product"`
	Participants []user     `json:"participants"`
	LastMessage  *message   `json:"last_message"`
	CreatedAt    flexString `json:"created_at"`
	UpdatedAt    flexString `json:"updated_at"`
}

type product struct {
	ID    flexString `json:"id"`
	Title flexString `json:"title"`
}

type user struct {
	ID          flexString `json:"id"`
	DisplayName flexString `json:"display_name"`
}

type message struct {
	ID             flexString `json:"id"`
	ConversationID flexString `json:"conversation_id"`
	SenderID       flexString `json:"sender_id"`
	Text           flexString `json:"text"`
	ImageURL       flexString `json:"image_url"`
	CreatedAt      flexString `json:"created_at"`
}

// flexString is a JSON string, number or boolean as its text; null is "".
// Partizap documents integer ids, but a PHP backend sends "5012" as easily
// as 5012, and events carry ids as strings anyway.
type flexString string

func (s *flexString) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		*s = ""
	case '"', 't', 'f':
		*s = flexString(tok.String())
	case '0':
		n, err := canonicalNumber(tok.String())
		if err != nil {
			return err
		}
		*s = flexString(n)
	default:
		return fmt.Errorf("want a string or a number, got %v", tok.Kind())
	}
	return nil
}

// canonicalNumber keeps an integer literal as it is, and writes integral
// floats (5012.0, 5.012e3) as integers so the same id never has two
// spellings. Fractions are kept as sent.
func canonicalNumber(raw string) (string, error) {
	if !strings.ContainsAny(raw, ".eE") {
		return raw, nil
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return "", err
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10), nil
	}
	return raw, nil
}

// flexBool is a JSON boolean, or 0/1, "true"/"false", "0"/"1".
type flexBool bool

func (b *flexBool) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 't', 'f':
		*b = flexBool(tok.Bool())
		return nil
	case '"', '0':
		if v, err := strconv.ParseBool(tok.String()); err == nil {
			*b = flexBool(v)
			return nil
		}
	}
	return fmt.Errorf("want a boolean, got %s", tok.String())
}

// extraLayouts are ISO 8601 forms pollers.ParseTime does not read: PHP's
// DATE_ISO8601 ("2024-03-05T18:22:40+0300") and its space-separated twin.
var extraLayouts = []string{
	"2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.999999999-0700",
	"2006-01-02 15:04:05-0700", "2006-01-02 15:04:05.999999999-0700",
	"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05.999999999Z07:00",
}

// parseTime reads a Partizap time: RFC 3339 or a zone-less local time in
// loc (pollers.ParseTime), or an ISO 8601 offset without a colon.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	t, err := pollers.ParseTime(strings.TrimSpace(s), loc)
	if err == nil {
		return t, nil
	}
	for _, layout := range extraLayouts {
		if t, perr := time.Parse(layout, s); perr == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err // wraps pollers.ErrMalformed
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

// compareIDs orders ids numerically when both are integers, else as text.
func compareIDs(a, b string) int {
	an, aerr := strconv.ParseInt(a, 10, 64)
	bn, berr := strconv.ParseInt(b, 10, 64)
	if aerr == nil && berr == nil {
		return cmp.Compare(an, bn)
	}
	return strings.Compare(a, b)
}

// byTimeThenID is the order Messages returns: oldest first, and messages
// of the same second (the simulator's and probably the API's resolution) in
// id order, which is the order they were written.
func byTimeThenID(a, b events.Message) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return compareIDs(a.ID, b.ID)
}

var errNoData = errors.New("no data array")
