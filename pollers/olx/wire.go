package olx

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// The shapes of olx.md §3. Every field but the ids is optional: integrators
// report list items without advert_id, and fixtures disagree on types, so
// ids and counts are read from numbers or strings alike and unknown fields
// are ignored.

type thread struct {
	ID             api.ID  `json:"id"`
	AdvertID       api.ID  `json:"advert_id"`
	InterlocutorID api.ID  `json:"interlocutor_id"`
	TotalCount     api.Int `json:"total_count"`
	UnreadCount    api.Int `json:"unread_count"`
	CreatedAt      string  `json:"created_at"`
}

type message struct {
	ID          api.ID       `json:"id"`
	CreatedAt   string       `json:"created_at"`
	Type        string       `json:"type"`
	Text        string       `json:"text"`
	Attachments []attachment `json:"attachments"`
	// CVs (jobs category) have no documented shape; they are mapped as
	// attachments when they look like one and ignored otherwise.
	CVs jsontext.Value `json:"cvs"`
}

type attachment struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// list is a list response: {"data": [...]}, as the API answers in
// practice, or a bare array, as its reference shows. Other members next to
// data (links, metadata) are ignored.
type list[T any] struct{ Items []T }

func (l *list[T]) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	switch d.PeekKind() {
	case '[':
		return l.items(d)
	case '{':
	default:
		return errors.New("the body is neither an array nor an object with a data array")
	}
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	found := false
	for d.PeekKind() != '}' {
		name, err := d.ReadToken()
		if err != nil {
			return err
		}
		if name.String() != "data" {
			if err := d.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if k := d.PeekKind(); k != '[' {
			return fmt.Errorf("data is a JSON %s, not an array", api.KindName(k))
		}
		if err := l.items(d); err != nil {
			return err
		}
		found = true
	}
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	if !found {
		return errors.New("no data array")
	}
	return nil
}

func (l *list[T]) items(d *jsontext.Decoder) error {
	l.Items = l.Items[:0]
	if l.Items == nil {
		l.Items = []T{}
	}
	return json.UnmarshalDecode(d, &l.Items)
}

// count writes a count for a version: "-" when the list left it out.
func count(n api.Int) string {
	if !n.Known {
		return "-"
	}
	return strconv.FormatInt(n.N, 10)
}

// Roles of participants and senders in events.
const (
	roleInterlocutor = "interlocutor" // the other OLX user of the thread
	roleOwner        = "owner"        // the account's own user
)

// item maps a list entry. The version is what the list says about the
// thread's messages: total_count grows with every message, and
// unread_count catches what a count alone cannot (one message deleted and
// another written between two polls) and changes when the owner reads the
// thread, which costs one message request and publishes nothing.
func (t *thread) item(loc *time.Location) (pollers.Item, error) {
	if t.ID == "" {
		return pollers.Item{}, fmt.Errorf("%w: thread without id", pollers.ErrMalformed)
	}
	it := pollers.Item{
		Thread: events.Thread{
			ID:           string(t.ID),
			Participants: make([]events.Participant, 0, 1),
		},
		Version: "t" + count(t.TotalCount) + "u" + count(t.UnreadCount),
		Ref:     count(t.TotalCount),
	}
	if t.CreatedAt != "" {
		at, err := localTime(t.CreatedAt, loc, time.Time{})
		if err != nil {
			return pollers.Item{}, fmt.Errorf("created_at: %w", err)
		}
		it.Thread.CreatedAt = at
	}
	if t.AdvertID != "" {
		it.Thread.Reference = events.Reference{Type: "advert", ID: string(t.AdvertID)}
	}
	if t.InterlocutorID != "" {
		it.Thread.Participants = append(it.Thread.Participants, events.Participant{ID: string(t.InterlocutorID), Role: roleInterlocutor})
	}
	return it, nil
}

// interlocutor is the other user of the thread, as its list item named them.
func interlocutor(it *pollers.Item) events.Participant {
	for _, p := range it.Thread.Participants {
		if p.Role == roleInterlocutor {
			return p
		}
	}
	return events.Participant{Role: roleInterlocutor}
}

// direction: only the account's own messages ("sent") are outbound;
// "received" and any type OLX adds later come from the other side.
func direction(typ string) events.Direction {
	if strings.EqualFold(typ, "sent") {
		return events.Outbound
	}
	return events.Inbound
}

// mapMessages turns a thread's messages, in any order and possibly listed
// twice, into events.Message oldest first. Messages are put in id order
// first (OLX ids grow over time), which is what resolves local times that
// a daylight-saving change makes ambiguous (see localTime); the result is
// then ordered by time, ties kept in id order.
func mapMessages(ms []message, loc *time.Location, from events.Participant) ([]events.Message, error) {
	for i := range ms {
		if ms[i].ID == "" {
			return nil, fmt.Errorf("%w: message %d without id", pollers.ErrMalformed, i)
		}
	}
	ms = slices.Clone(ms)
	slices.SortStableFunc(ms, func(a, b message) int { return api.CompareIDs(string(a.ID), string(b.ID)) })
	ms = slices.CompactFunc(ms, func(a, b message) bool { return a.ID == b.ID })

	out := make([]events.Message, 0, len(ms))
	var prev time.Time
	for i := range ms {
		m := &ms[i]
		at, err := localTime(m.CreatedAt, loc, prev)
		if err != nil {
			return nil, fmt.Errorf("message %s: created_at: %w", m.ID, err)
		}
		if at.After(prev) {
			prev = at
		}
		em := events.Message{
			ID: string(m.ID), CreatedAt: at, Direction: direction(m.Type), Text: m.Text,
			Attachments: make([]events.Attachment, 0, len(m.Attachments)),
		}
		switch {
		case em.Direction == events.Outbound:
			em.Sender = events.Participant{Role: roleOwner}
		case strings.EqualFold(m.Type, "received") || m.Type == "":
			em.Sender = from
		default:
			// An unknown type is the other side, but maybe not the
			// interlocutor (a system notice, say): keep the type as role.
			em.Sender = events.Participant{Role: strings.ToLower(m.Type)}
		}
		for _, a := range m.Attachments {
			em.Attachments = append(em.Attachments, events.Attachment{ID: a.URL, Name: a.Name})
		}
		if len(m.CVs) > 0 && m.CVs.Kind() == '[' {
			var cvs []attachment
			if json.Unmarshal(m.CVs, &cvs) == nil {
				for _, a := range cvs {
					if a.URL != "" || a.Name != "" {
						em.Attachments = append(em.Attachments, events.Attachment{ID: a.URL, Name: a.Name})
					}
				}
			}
		}
		out = append(out, em)
	}
	slices.SortStableFunc(out, func(a, b events.Message) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// localTime reads a time. OLX writes local wall-clock times without a
// zone, and in the hour a daylight-saving change repeats, one such time
// names two instants. Go's parser picks the later one, which would put a
// message written early in the repeated hour after one written late in
// it, and a message placed before one already seen is never published.
// So the earliest reading not before notBefore (the previous message's
// time in id order) is taken, or the earliest of all when none is: a
// thread's messages keep their order, and since readings depend only on
// the messages before, the same message reads the same on every poll.
// Times with a zone are taken as they are.
func localTime(s string, loc *time.Location, notBefore time.Time) (time.Time, error) {
	t, err := pollers.ParseTime(s, loc)
	if err != nil || loc == nil || loc == time.UTC {
		return t, err
	}
	// Only a time near a change of the zone's offset can be ambiguous.
	_, before := t.Add(-3 * time.Hour).In(loc).Zone()
	_, after := t.Add(3 * time.Hour).In(loc).Zone()
	if before == after {
		return t, nil
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	wall := t.In(loc)
	var readings []time.Time // ascending
	for d := -2 * time.Hour; d <= 2*time.Hour; d += 30 * time.Minute {
		if c := t.Add(d); sameWall(c.In(loc), wall) {
			readings = append(readings, c)
		}
	}
	for _, c := range readings {
		if !c.Before(notBefore) {
			return c, nil
		}
	}
	return readings[0], nil
}

func sameWall(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute() &&
		a.Second() == b.Second() && a.Nanosecond() == b.Nanosecond()
}
