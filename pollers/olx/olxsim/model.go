package olxsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// SenderType is who writes a message; the zero SenderType is invalid.
type SenderType int

// The two sides of an OLX thread.
const (
	// Interlocutor is the other OLX user (a buyer, or a seller asked): "received".
	Interlocutor SenderType = iota + 1
	Owner                   // the account's own user: type "sent"
)

// String returns the message type as OLX writes it.
func (t SenderType) String() string { return sim.Name("SenderType", int(t), "", "received", "sent") }

// NewThread describes a thread for AddThread; every field is optional.
type NewThread struct {
	AdvertID, InterlocutorID int64 // default new ones
	Favourite                bool
	At                       time.Time // the creation time; zero means now
}

// Attachment is a file attached to a message, by its pre-hosted URL.
type Attachment struct {
	Name, URL string
}

// ThreadInfo is the ground truth about a thread.
type ThreadInfo struct {
	ID, AdvertID, InterlocutorID string
	CreatedAt                    time.Time
	UnreadCount                  int
	Favourite                    bool
	Messages                     []MessageInfo // oldest first
}

// MessageInfo is the ground truth about a message, At in whole seconds.
type MessageInfo struct {
	ID                    string
	At                    time.Time
	From                  SenderType
	Type, Direction, Text string
	IsRead                bool
	Attachments           []Attachment
}

type (
	account struct {
		id     string
		userID int64

		sync.RWMutex // guards what follows
		threads      map[int64]*thread
		// order holds the listed threads by activity, read from the end.
		order   sim.Index[int64, *thread]
		seq     int64            // the last activity sequence number
		pending sim.Set[*thread] // the interlocutor wrote last
		// stamps are OLX's whole seconds, never earlier than before, so a thread's messages keep their order.
		stamps          sim.Stamps
		people, adverts int64 // generated ids
	}
	// thread is guarded by its account's lock; responses copy messages, whose read flag changes.
	thread struct {
		id, advertID, interlocutorID int64
		created                      time.Time
		createdStr                   string
		seq                          int64
		msgs                         []*message
		unread                       int
		favourite                    bool
	}
	message struct {
		id, threadID int64
		at           time.Time
		atStr        string
		from         SenderType
		text         string
		read         bool
		attachments  []wireAttachment // never modified
	}
)

func newAccount(id string, n int64) *account {
	return &account{
		id: id, userID: 1000 + n, threads: make(map[int64]*thread),
		order:  sim.Index[int64, *thread]{Key: func(t *thread) (int64, int64) { return t.seq, 0 }},
		stamps: sim.Stamps{Unit: time.Second, Ties: true, Coarse: true},
		people: 5000 + 1000*n, adverts: 880000 + 10000*n,
	}
}

func (a *account) mustThread(threadID string) *thread {
	id, err := strconv.ParseInt(threadID, 10, 64)
	t := a.threads[id]
	if err != nil || t == nil {
		panic(fmt.Errorf("olxsim: unknown thread %q in account %q", threadID, a.id))
	}
	return t
}

// formatTime writes OLX's zone-less wall clock, in whole seconds.
func (s *Server) formatTime(t time.Time) string { return t.In(s.loc).Format(time.DateTime) }

// touch moves t to the top of GET /threads.
func (a *account) touch(t *thread) {
	a.order.Remove(t)
	a.seq++
	t.seq = a.seq
	a.order.Insert(t)
}

// newThread builds a thread, not listed yet. Call with a locked.
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
		id: s.threadN.Add(1), advertID: in.AdvertID, interlocutorID: in.InterlocutorID,
		created: at, createdStr: s.formatTime(at), favourite: in.Favourite,
	}
	a.threads[t.id] = t
	return t
}

// appendMessage adds a message, listed at the top unless seeding. Call with a locked.
func (s *Server) appendMessage(a *account, t *thread, from SenderType, text string, atts []Attachment, at time.Time, listed bool) (*message, error) {
	if from != Interlocutor && from != Owner {
		return nil, errors.New("olxsim: invalid sender type")
	}
	at = a.stamps.Next(at, s.now)
	m := &message{
		id: s.msgN.Add(1), threadID: t.id, at: at, atStr: s.formatTime(at), from: from, text: text,
		attachments: sim.Map(atts, func(f Attachment) wireAttachment { return wireAttachment(f) }),
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
		a.touch(t)
	}
	return m, nil
}

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
	return ThreadInfo{
		ID: strconv.FormatInt(t.id, 10), AdvertID: strconv.FormatInt(t.advertID, 10),
		InterlocutorID: strconv.FormatInt(t.interlocutorID, 10),
		CreatedAt:      t.created, UnreadCount: t.unread, Favourite: t.favourite,
		Messages: sim.Map(t.msgs, func(m *message) MessageInfo {
			mi := MessageInfo{
				ID: strconv.FormatInt(m.id, 10), At: m.at, From: m.from, Type: m.from.String(),
				Direction: string(sim.Direction(m.from == Owner)), Text: m.text, IsRead: m.read,
			}
			for _, f := range m.attachments {
				mi.Attachments = append(mi.Attachments, Attachment(f))
			}
			return mi
		}),
	}
}

// AddThread creates a thread without messages at the top of the list; OLX's start with one, so add one.
func (s *Server) AddThread(accountID string, in NewThread) string {
	return sim.Edit(&s.accounts, accountID, func(a *account) string {
		t := s.newThread(a, in, a.stamps.Next(in.At, s.now))
		a.touch(t)
		return strconv.FormatInt(t.id, 10)
	})
}

// AddMessage appends a message at at (zero: now) and returns its id.
func (s *Server) AddMessage(accountID, threadID string, from SenderType, text string, at time.Time) string {
	return s.AddMessageWithAttachments(accountID, threadID, from, text, at)
}

// AddMessageWithAttachments is AddMessage with attachments.
func (s *Server) AddMessageWithAttachments(accountID, threadID string, from SenderType, text string, at time.Time, files ...Attachment) string {
	return sim.Edit(&s.accounts, accountID, func(a *account) string {
		return strconv.FormatInt(sim.Must(s.appendMessage(a, a.mustThread(threadID), from, text, files, at, true)).id, 10)
	})
}

// MarkRead is the mark-as-read command; the thread keeps its place.
func (s *Server) MarkRead(accountID, threadID string) {
	sim.Edit(&s.accounts, accountID, func(a *account) error { a.mustThread(threadID).markRead(); return nil })
}

// DeleteThread removes a thread, as OLX removes a conversation.
func (s *Server) DeleteThread(accountID, threadID string) {
	sim.Edit(&s.accounts, accountID, func(a *account) error {
		t := a.mustThread(threadID)
		a.order.Remove(t)
		a.pending.Put(t, false)
		delete(a.threads, t.id)
		return nil
	})
}

// Threads is the account's inbox in the order of GET /threads.
func (s *Server) Threads(accountID string) []ThreadInfo {
	out, _ := sim.View(&s.accounts, accountID, func(a *account) []ThreadInfo {
		return sim.Map(sim.Page(a.order.Items(), 0, a.order.Len(), true), s.threadInfo)
	})
	return out
}

// Thread returns the ground truth of one thread.
func (s *Server) Thread(accountID, threadID string) (ThreadInfo, bool) {
	id, _ := strconv.ParseInt(threadID, 10, 64) // a bad id parses to no thread's id
	return sim.Find(&s.accounts, accountID, func(a *account) *thread { return a.threads[id] }, s.threadInfo)
}

// Truth lists the bottom of OLX's list first.
func (s *Server) Truth(accountID string) []sim.Thread {
	threads := s.Threads(accountID)
	slices.Reverse(threads)
	return sim.Truth(threads, func(t ThreadInfo) (string, bool, []MessageInfo) { return t.ID, false, t.Messages },
		func(m MessageInfo) (string, string, time.Time) { return m.ID, m.Direction, m.At })
}

// Seed bulk-creates threads from start (zero: ending now) by sim.Seed, above the others.
func (s *Server) Seed(accountID string, threads, messagesPerThread int, start time.Time) {
	a := s.accounts.Must(accountID)
	a.Lock()
	defer a.Unlock()
	// The stamps cut to whole seconds, so the spread needs no coarser unit.
	created := sim.Seed(start, s.now(), threads, messagesPerThread, time.Nanosecond, nil, func(i int, at time.Time) *thread {
		return s.newThread(a, NewThread{}, a.stamps.Next(at, s.now))
	}, func(t *thread, i, j int, answer bool, at time.Time) {
		_, _ = s.appendMessage(a, t, sim.If(answer, Owner, Interlocutor), script.Line(i, j, answer), nil, at, false) // from is valid
	})
	for _, t := range created {
		a.touch(t)
	}
}

// Fill is Seed ending now.
func (s *Server) Fill(accountID string, threads, perThread int) {
	s.Seed(accountID, threads, perThread, time.Time{})
}

// Traffic makes the inbox live: 20% of events open a thread, 45% are the interlocutor's, 35% answers.
func (s *Server) Traffic(ctx context.Context, accountID string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.accounts, ctx, accountID, perSecond, rnd, s.trafficStep)
}

// Traffic actions, as trafficStep reports them.
const actNone, actNewThread, actInterlocutor, actOwnerAnswer = sim.None, sim.NewThread, "interlocutor_message", "owner_answer"

func (s *Server) trafficStep(a *account, rnd *rand.Rand) string {
	p, itext, otext, pick := rnd.Float64(), sim.Pick(rnd, script.In), sim.Pick(rnd, script.Out), rnd.Uint64()
	write := func(t *thread, from SenderType, text string) bool {
		_, _ = s.appendMessage(a, t, from, text, nil, time.Time{}, true)
		return true
	}
	return sim.Step(a, p, func() bool { return a.order.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		t := s.newThread(a, NewThread{}, a.stamps.Next(time.Time{}, s.now))
		a.touch(t)
		return write(t, Interlocutor, itext)
	}}, sim.Event{Name: actInterlocutor, Share: 0.45, Do: func() bool {
		return write(a.order.At(int(pick%uint64(a.order.Len()))), Interlocutor, itext)
	}}, sim.Event{Name: actOwnerAnswer, Share: 0.35, Do: func() bool {
		return a.pending.Len() > 0 && write(a.pending.At(int(pick%uint64(a.pending.Len()))), Owner, otext)
	}})
}

// script is what the people of seeded and live traffic say.
var script = sim.Script{
	In:  []string{"Is it still available?", "Can you ship it?", "What is the lowest price?", "Can I pick it up tomorrow?", "Does it have any scratches?", "Could you send more photos?"},
	Out: []string{"Yes, it is still available.", "I can ship it with OLX delivery.", "The price is negotiable a little.", "Sure, after 6 pm works for me.", "It is in very good condition."},
}
