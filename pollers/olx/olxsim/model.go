package olxsim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// SenderType is who writes a message.
type SenderType int

// The zero SenderType is deliberately invalid, so a forgotten argument is
// caught.
const (
	// Interlocutor is the other OLX user of the thread (a buyer asking
	// about the account's advert, or a seller the account asked): OLX shows
	// the message with type "received".
	Interlocutor SenderType = iota + 1
	// Owner is the account's own user: type "sent".
	Owner
)

// String returns the message type as OLX writes it.

func (t SenderType) String() string { return sim.Name("SenderType", int(t), "", "received", "sent") }

// NewThread describes a thread for AddThread. Every field is optional.
type NewThread struct {
	// AdvertID is the advert the chat is about; default a new advert id.
	AdvertID int64
	// InterlocutorID is the other user; default a new user id.
	InterlocutorID int64
	// Favourite stars the thread.
	Favourite bool
	// At is the creation time; zero means now (see AddMessage about times).
	At time.Time
}

// Attachment is a file attached to a message, by its (pre-hosted) URL.
type Attachment struct {
	Name string
	URL  string
}

// ThreadInfo is the ground truth about a thread, for assertions.
type ThreadInfo struct {
	ID             string
	AdvertID       string
	InterlocutorID string
	CreatedAt      time.Time
	UnreadCount    int
	Favourite      bool
	Messages       []MessageInfo // oldest first
}

// MessageInfo is the ground truth about a message.
type MessageInfo struct {
	ID   string
	At   time.Time // whole seconds, as the API writes it
	From SenderType
	// Type is "received" or "sent", as OLX writes it.
	Type string
	// Direction is "inbound" (the interlocutor) or "outbound" (the
	// account's user), the way threadsync's events name it.
	Direction   string
	Text        string
	IsRead      bool
	Attachments []Attachment
}

var (
	errUnknownThread = errors.New("olxsim: unknown thread")
	errBadSender     = errors.New("olxsim: invalid sender type")
)

type account struct {
	id     string
	userID int64

	sync.RWMutex // guards what follows
	threads      map[int64]*thread
	// order holds the listed threads by activity sequence, oldest first:
	// GET /threads reads it from the end, newest activity first.
	order sim.Index[int64, *thread]
	seq   int64 // last activity sequence number handed out
	// pending holds the threads whose last message is the interlocutor's,
	// for Traffic.
	pending sim.Set[*thread]
	// stamps times events in whole seconds, as OLX writes them, and never
	// earlier than a time handed out before, even when the clock steps
	// back, so a thread's messages keep their order in time.
	stamps  sim.Stamps
	people  int64 // generated interlocutor ids
	adverts int64 // generated advert ids
}

// thread is guarded by its account's mu. msgs is append-only; a message's
// read flag is the only thing that changes once written, so responses copy
// messages under the lock.
type thread struct {
	id             int64
	advertID       int64
	interlocutorID int64
	created        time.Time
	createdStr     string
	seq            int64
	msgs           []*message
	unread         int
	favourite      bool
}

type message struct {
	id          int64
	threadID    int64
	at          time.Time
	atStr       string
	from        SenderType
	text        string
	read        bool
	attachments []wireAttachment // never modified
}

func newAccount(id string, n int64) *account {
	return &account{
		id:      id,
		userID:  1000 + n,
		threads: make(map[int64]*thread),
		order:   sim.Index[int64, *thread]{Key: func(t *thread) (int64, int64) { return t.seq, 0 }},
		stamps:  sim.Stamps{Unit: time.Second, Ties: true},
		people:  5000 + 1000*n,
		adverts: 880000 + 10000*n,
	}
}

// mustThread returns a thread of the account. Call with a.mu held.
func (a *account) mustThread(threadID string) *thread {
	id, err := strconv.ParseInt(threadID, 10, 64)
	t := a.threads[id]
	if err != nil || t == nil {
		panic(fmt.Errorf("%w %q in account %q", errUnknownThread, threadID, a.id))
	}
	return t
}

// formatTime writes a time the way OLX does: wall clock in the configured
// zone, no zone, whole seconds.
func (s *Server) formatTime(t time.Time) string { return t.In(s.loc).Format(time.DateTime) }

// stamp returns the time of a new event: a zero at means now, an explicit
// one is taken as given, in whole seconds. Call with a.mu held.
func (s *Server) stamp(a *account, at time.Time) time.Time {
	return a.stamps.Next(at.Truncate(time.Second), s.now)
}

// touch records activity on t: it moves to the top of GET /threads.
func (a *account) touch(t *thread, listed bool) {
	if listed {
		a.order.Remove(t)
	}
	a.seq++
	t.seq = a.seq
	a.order.Insert(t)
}

// newThread builds a thread without listing it. Call with a.mu held.
func (s *Server) newThread(a *account, in NewThread, at time.Time) *thread {
	if in.AdvertID == 0 {
		a.adverts++
		in.AdvertID = a.adverts
	}
	if in.InterlocutorID == 0 {
		a.people++
		in.InterlocutorID = a.people
	}
	t := &thread{
		id:             s.threadN.Add(1),
		advertID:       in.AdvertID,
		interlocutorID: in.InterlocutorID,
		created:        at,
		createdStr:     s.formatTime(at),
		favourite:      in.Favourite,
	}
	a.threads[t.id] = t
	return t
}

// appendMessage adds a message and updates what depends on it: the unread
// count, the pending set and, unless the thread is not listed yet (Seed),
// its place at the top of the list. Call with a.mu held.
func (s *Server) appendMessage(a *account, t *thread, from SenderType, text string, atts []Attachment, at time.Time, listed bool) (*message, error) {
	if from != Interlocutor && from != Owner {
		return nil, errBadSender
	}
	at = s.stamp(a, at)
	m := &message{
		id: s.msgN.Add(1), threadID: t.id, at: at, atStr: s.formatTime(at),
		from: from, text: text, attachments: make([]wireAttachment, len(atts)),
	}
	for i, f := range atts {
		m.attachments[i] = wireAttachment(f)
	}
	if from == Owner {
		// Answering happens in the open thread, which reads it.
		t.markRead()
		m.read = true
	} else {
		t.unread++
	}
	t.msgs = append(t.msgs, m)
	a.pending.Put(t, from == Interlocutor)
	if listed {
		a.touch(t, true)
	}
	return m, nil
}

// markRead marks the interlocutor's messages read. Messages before a read
// one are read already, so it stops there.
func (t *thread) markRead() {
	for i := len(t.msgs) - 1; i >= 0 && t.unread > 0; i-- {
		if m := t.msgs[i]; m.from == Interlocutor && !m.read {
			m.read = true
			t.unread--
		}
	}
	t.unread = 0
}

func (s *Server) threadInfo(t *thread) ThreadInfo {
	ti := ThreadInfo{
		ID:             strconv.FormatInt(t.id, 10),
		AdvertID:       strconv.FormatInt(t.advertID, 10),
		InterlocutorID: strconv.FormatInt(t.interlocutorID, 10),
		CreatedAt:      t.created,
		UnreadCount:    t.unread,
		Favourite:      t.favourite,
		Messages:       make([]MessageInfo, len(t.msgs)),
	}
	for i, m := range t.msgs {
		mi := MessageInfo{
			ID: strconv.FormatInt(m.id, 10), At: m.at, From: m.from, Type: m.from.String(),
			Direction: string(sim.Direction(m.from == Owner)), Text: m.text, IsRead: m.read,
		}
		for _, f := range m.attachments {
			mi.Attachments = append(mi.Attachments, Attachment(f))
		}
		ti.Messages[i] = mi
	}
	return ti
}

// AddThread creates a thread without messages at the top of the account's
// list and returns its id. OLX threads start with a message; add one right
// after. It panics if the account is unknown: that is a mistake in the test.
func (s *Server) AddThread(accountID string, in NewThread) string {
	return sim.Edit(&s.accounts, accountID, func(a *account) string {
		t := s.newThread(a, in, s.stamp(a, in.At))
		a.touch(t, false)
		return strconv.FormatInt(t.id, 10)
	})
}

// AddMessage appends a message to a thread, moves the thread to the top of
// the list and returns the message's id. A message from the Interlocutor
// is unread and leaves the thread awaiting the owner's reply; one from the
// Owner marks the thread read.
//
// A zero at means now by Config.Now (never earlier than a time handed out
// before); an explicit at is used as given. Times are kept in whole
// seconds, as OLX writes them.
//
// AddMessage panics if the account or thread is unknown or from is not a
// SenderType: all mistakes in the test's setup.
func (s *Server) AddMessage(accountID, threadID string, from SenderType, text string, at time.Time) string {
	return s.AddMessageWithAttachments(accountID, threadID, from, text, at)
}

// AddMessageWithAttachments is AddMessage with attachments on the message.
func (s *Server) AddMessageWithAttachments(accountID, threadID string, from SenderType, text string, at time.Time, files ...Attachment) string {
	return sim.Edit(&s.accounts, accountID, func(a *account) string {
		m, err := s.appendMessage(a, a.mustThread(threadID), from, text, files, at, true)
		if err != nil {
			panic(err)
		}
		return strconv.FormatInt(m.id, 10)
	})
}

// MarkRead does what the mark-as-read command does: the thread's unread
// count drops to zero. The thread keeps its place in the list. It panics
// on an unknown account or thread.
func (s *Server) MarkRead(accountID, threadID string) {
	sim.Edit(&s.accounts, accountID, func(a *account) error { a.mustThread(threadID).markRead(); return nil })
}

// DeleteThread removes a thread from the account, as when OLX removes a
// conversation: the threads listed after it move up by one. It panics on
// an unknown account or thread.
func (s *Server) DeleteThread(accountID, threadID string) {
	sim.Edit(&s.accounts, accountID, func(a *account) error {
		t := a.mustThread(threadID)
		a.order.Remove(t)
		a.pending.Put(t, false)
		delete(a.threads, t.id)
		return nil
	})
}

// Threads returns the ground truth of an account's inbox in the order GET
// /threads lists it (newest activity first), or nil for an unknown account.
func (s *Server) Threads(accountID string) []ThreadInfo {
	out, _ := sim.View(&s.accounts, accountID, func(a *account) []ThreadInfo {
		out := make([]ThreadInfo, 0, a.order.Len())
		for _, t := range slices.Backward(a.order.Items()) {
			out = append(out, s.threadInfo(t))
		}
		return out
	})
	return out
}

// Thread returns the ground truth of one thread.
func (s *Server) Thread(accountID, threadID string) (ThreadInfo, bool) {
	id, err := strconv.ParseInt(threadID, 10, 64)
	return sim.Lookup(&s.accounts, accountID, func(a *account) (ThreadInfo, bool) {
		t := a.threads[id]
		if t == nil || err != nil {
			return ThreadInfo{}, false
		}
		return s.threadInfo(t), true
	})
}
