package selfcommunity

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// The response shapes of selfcommunity.md §3. Unknown fields are ignored,
// and only documented fields are read, so an undocumented one of an
// unexpected type cannot break a page.

// snippetPage and messagePage are DRF's limit/offset envelope.
type snippetPage struct {
	Count   api.Int   `json:"count"`
	Next    *string   `json:"next"`
	Results []snippet `json:"results"`
}

type messagePage struct {
	Count   api.Int   `json:"count"`
	Next    *string   `json:"next"`
	Results []message `json:"results"`
}

// snippet is one inbox row: a thread and a preview of its last message.
type snippet struct {
	ID            api.ID `json:"id"`
	Headline      string `json:"headline"`
	Sender        *user  `json:"sender"`
	Receiver      *user  `json:"receiver"`
	CreatedAt     string `json:"created_at"`
	LastMessageAt string `json:"last_message_at"`
	ThreadStatus  string `json:"thread_status"`
}

type user struct {
	ID       api.ID `json:"id"`
	Username string `json:"username"`
	RealName string `json:"real_name"`
}

type message struct {
	ID        api.ID `json:"id"`
	ThreadID  api.ID `json:"thread_id"`
	Message   string `json:"message"`
	Sender    *user  `json:"sender"`
	CreatedAt string `json:"created_at"`
	Status    string `json:"status"`
	File      *file  `json:"file"`
}

// file is a message attachment. The documentation types uuid as an
// integer and shows strings; both are read.
type file struct {
	UUID     api.ID  `json:"uuid"`
	Filename string  `json:"filename"`
	Filesize api.Int `json:"filesize"`
}

// Participant roles: the account owner and anyone else in the community.
const (
	roleOwner  = "owner"
	roleMember = "member"
)

func (u *user) participant(ownerID string) events.Participant {
	if u == nil {
		// A hard-deleted user may come back as null.
		return events.Participant{Role: roleMember}
	}
	name := u.RealName
	if name == "" {
		name = u.Username
	}
	role := roleMember
	if string(u.ID) == ownerID {
		role = roleOwner
	}
	return events.Participant{ID: string(u.ID), Name: name, Role: role}
}

// item maps a snippet. The thread's counterpart is whichever of sender and
// receiver is not the owner (the documentation calls sender the thread's
// creator, its examples show the last message's sender); it is also the
// thread's reference, there being no subject or business object.
func (s *snippet) item(ownerID string, loc *time.Location) (pollers.Item, error) {
	if s.ID == "" {
		return pollers.Item{}, fmt.Errorf("%w: thread without id", pollers.ErrMalformed)
	}
	created, err := pollers.ParseTime(s.CreatedAt, loc)
	if err != nil {
		return pollers.Item{}, fmt.Errorf("created_at: %w", err)
	}
	it := pollers.Item{Thread: events.Thread{ID: string(s.ID), CreatedAt: created}, UpdatedAt: created}
	if s.LastMessageAt != "" {
		if it.LastMessageAt, err = pollers.ParseTime(s.LastMessageAt, loc); err != nil {
			return pollers.Item{}, fmt.Errorf("last_message_at: %w", err)
		}
		it.UpdatedAt = it.LastMessageAt
	}
	var owner, other *user
	for _, u := range []*user{s.Sender, s.Receiver} {
		switch {
		case u == nil:
		case string(u.ID) == ownerID && owner == nil:
			owner = u
		case other == nil:
			other = u
		}
	}
	for _, u := range []*user{owner, other} {
		if u != nil {
			it.Thread.Participants = append(it.Thread.Participants, u.participant(ownerID))
		}
	}
	if other != nil {
		it.Thread.Reference = events.Reference{Type: "user", ID: string(other.ID)}
	}
	// A new message moves last_message_at and replaces the headline; the
	// reply state is derived from messages, so nothing else matters.
	// thread_status is left out on purpose: it flips when the owner merely
	// reads the thread. The time is normalised so that a community changing
	// how it writes offsets does not look like news.
	h := fnv.New32a()
	_, _ = h.Write([]byte(s.Headline))
	it.Version = it.UpdatedAt.Format(time.RFC3339Nano) + "|" + strconv.FormatUint(uint64(h.Sum32()), 36)
	return it, nil
}

// Message statuses that mean the message is gone for the reader.
const (
	statusDeleted = "deleted"
	statusHidden  = "hidden"
)

// message maps a message of thread threadID; keep is false for a deleted
// or hidden one. Any other status, known or new, is a message to publish.
func (m *message) message(threadID, ownerID string, loc *time.Location) (em events.Message, keep bool, err error) {
	if m.ID == "" {
		return em, false, fmt.Errorf("%w: message without id", pollers.ErrMalformed)
	}
	if m.ThreadID != "" && string(m.ThreadID) != threadID {
		return em, false, fmt.Errorf("%w: message of thread %q in thread %q", pollers.ErrMalformed, m.ThreadID, threadID)
	}
	at, err := pollers.ParseTime(m.CreatedAt, loc)
	if err != nil {
		return em, false, fmt.Errorf("created_at: %w", err)
	}
	em = events.Message{
		ID: string(m.ID), CreatedAt: at, Direction: events.Inbound,
		Sender: m.Sender.participant(ownerID), Text: m.Message,
	}
	if em.Sender.Role == roleOwner {
		em.Direction = events.Outbound
	}
	if m.File != nil {
		em.Attachments = []events.Attachment{{ID: string(m.File.UUID), Name: m.File.Filename, Size: max(m.File.Filesize.N, 0)}}
	}
	return em, m.Status != statusDeleted && m.Status != statusHidden, nil
}
