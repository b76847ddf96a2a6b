package selfcommunitysim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// From says who writes a message, seen from an account; zero is invalid.
type From int

// The writers of a message.
const (
	Other From = iota + 1 // the thread's other participant: inbound
	Owner                 // the account's own user: outbound
)

// String names the writer.
func (f From) String() string { return sim.Name("From", int(f), "", "other", "owner") }

// NewThread describes the first message of a thread; every field is optional.
type NewThread struct {
	// With is the other user, default a new one (of RealName); a pair has one thread, where the message goes.
	With, RealName string
	From           From      // Other (default) or Owner
	Text           string    // default a question
	At             time.Time // zero means now
}

// ThreadInfo is the ground truth about a thread, seen from one account.
type ThreadInfo struct {
	ID                       string
	With                     UserInfo // the other participant
	CreatedAt, LastMessageAt time.Time
	Status                   string
	Messages                 []MessageInfo // oldest first
}

// UserInfo is the ground truth about a user.
type UserInfo struct {
	ID, Username, RealName string
}

// MessageInfo is the ground truth about a message, seen from one account.
type MessageInfo struct {
	ID                  string
	At                  time.Time
	From                From
	SenderID, Direction string
	Text                string
}

var errBadFrom = errors.New("selfcommunitysim: invalid From")

type (
	user struct {
		id   int64
		name string
		wire *wireUser
		acct *account // nil for users without a token
	}
	// thread is guarded by Server.mu, but for seen, which readers update.
	thread struct {
		id         int64
		users      [2]*user // users[0] wrote first
		created    time.Time
		createdStr string
		msgs       []*message // by id, append-only
		lastNs     int64      // the index key
		lastStr    string
		// seen counts the messages each side fetched or wrote: fewer is "new".
		seen   [2]atomic.Int64
		hidden [2]bool
	}
)

func (t *thread) side(u *user) int {
	switch u {
	case t.users[0]:
		return 0
	case t.users[1]:
		return 1
	}
	return -1
}

// userNamed returns the user of the name, created (of realName, joining at joined) if new.
func (s *Server) userNamed(name, realName string, joined time.Time) *user {
	return sim.Intern(s.byName, name, func() *user { return s.newUser(name, realName, joined) })
}

// newUser creates a user who joined at joined (zero: now).
func (s *Server) newUser(name, realName string, joined time.Time) *user {
	s.userSeq++
	u := &user{id: s.userSeq, name: name}
	u.wire = &wireUser{ID: u.id, Username: name, RealName: realName, Status: "a", DateJoined: s.formatTime(s.stamps.Next(joined, s.now))}
	s.users[u.id] = u
	s.byName[name] = u
	return u
}

func (s *Server) mustThread(a *account, threadID string) (*thread, int) {
	id, err := strconv.ParseInt(threadID, 10, 64)
	t := s.threads[id]
	if err != nil || t == nil || t.side(a.user) < 0 {
		panic(fmt.Errorf("selfcommunitysim: unknown thread %q for account %q", threadID, a.user.name))
	}
	return t, t.side(a.user)
}

// pairThread returns the thread of the pair, created if new.
func (s *Server) pairThread(first, second *user, at time.Time) *thread {
	key := [2]int64{min(first.id, second.id), max(first.id, second.id)}
	if t := s.pairs[key]; t != nil {
		return t
	}
	s.thrSeq++
	t := &thread{id: s.thrSeq, users: [2]*user{first, second}, created: at, createdStr: s.formatTime(at)}
	s.threads[t.id] = t
	s.pairs[key] = t
	return t
}

// appendMessage adds a message by side, showing a hidden thread again; Seed sorts at the end.
func (s *Server) appendMessage(t *thread, side int, text string, at time.Time, reindex bool) *message {
	s.msgSeq++
	m := &message{
		ID: s.msgSeq, ThreadID: t.id, Message: text, Sender: t.users[side].wire, Receiver: t.users[1-side].wire,
		CreatedAt: s.formatTime(at), Status: "created", at: at, side: side,
	}
	for i, u := range t.users {
		if a := u.acct; a != nil && reindex && len(t.msgs) > 0 && !t.hidden[i] {
			a.index.Remove(t)
		}
	}
	t.msgs = append(t.msgs, m)
	s.messages[m.ID] = m
	t.lastNs, t.lastStr = at.UnixNano(), m.CreatedAt
	t.seen[side].Store(int64(len(t.msgs)))
	for i, u := range t.users {
		t.hidden[i] = false
		if a := u.acct; a != nil {
			switch {
			case reindex:
				a.index.Insert(t)
			case len(t.msgs) == 1:
				a.index.Append(t)
			}
			s.setPending(a, t)
		}
	}
	return m
}

func (s *Server) setPending(a *account, t *thread) {
	i := t.side(a.user)
	a.pending.Put(t, len(t.msgs) > 0 && t.msgs[len(t.msgs)-1].side != i && !t.hidden[i])
}

// AddThread writes to the account from another user and returns the thread's id.
func (s *Server) AddThread(account string, in NewThread) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts.Must(account)
	other := s.userNamed(cmp.Or(in.With, s.freshName()), in.RealName, in.At)
	if other == a.user {
		panic(errors.New("selfcommunitysim: a user cannot write to themself"))
	}
	in.From, in.Text = cmp.Or(in.From, Other), cmp.Or(in.Text, "Hi! Do you have a minute?")
	at := s.stamps.Next(in.At, s.now)
	first, second := other, a.user
	if in.From == Owner {
		first, second = a.user, other
	} else if in.From != Other {
		panic(errBadFrom)
	}
	t := s.pairThread(first, second, at)
	s.appendMessage(t, t.side(first), in.Text, at, true)
	return strconv.FormatInt(t.id, 10)
}

// freshName is an unused username.
func (s *Server) freshName() string {
	for n := s.userSeq + 1; ; n++ {
		name := "member_" + strconv.FormatInt(n, 10)
		if s.byName[name] == nil {
			return name
		}
	}
}

// AddMessage appends a message at at (zero: now) and returns its id.
func (s *Server) AddMessage(account, threadID string, from From, text string, at time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts.Must(account)
	t, side := s.mustThread(a, threadID)
	switch from {
	case Owner:
	case Other:
		side = 1 - side
	default:
		panic(errBadFrom)
	}
	m := s.appendMessage(t, side, text, s.stamps.Next(at, s.now), true)
	return strconv.FormatInt(m.ID, 10)
}

// HideThread hides a thread from the account, as DELETE /api/v2/pm/?thread= does.
func (s *Server) HideThread(account, threadID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts.Must(account)
	t, side := s.mustThread(a, threadID)
	if t.hidden[side] {
		return
	}
	a.index.Remove(t)
	t.hidden[side] = true
	s.setPending(a, t)
}

// Threads is the account's inbox by thread id, hidden threads left out.
func (s *Server) Threads(account string) []ThreadInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, err := s.accounts.Get(account)
	if err != nil {
		return nil
	}
	ts := slices.Clone(a.index.Items())
	slices.SortFunc(ts, func(x, y *thread) int { return cmp.Compare(x.id, y.id) })
	return sim.Map(ts, func(t *thread) ThreadInfo { return t.info(t.side(a.user)) })
}

// Thread is the ground truth of one of the account's threads.
func (s *Server) Thread(account, threadID string) (ThreadInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, _ := s.accounts.Get(account)
	id, err := strconv.ParseInt(threadID, 10, 64)
	if t := s.threads[id]; a != nil && err == nil && t != nil && t.side(a.user) >= 0 {
		return t.info(t.side(a.user)), true
	}
	return ThreadInfo{}, false
}

// Truth is the account's inbox by thread id.
func (s *Server) Truth(username string) []sim.Thread {
	return sim.Truth(s.Threads(username), func(t ThreadInfo) (string, bool, []MessageInfo) { return t.ID, false, t.Messages },
		func(m MessageInfo) (string, string, time.Time) { return m.ID, m.Direction, m.At })
}

func (t *thread) info(side int) ThreadInfo {
	o := t.users[1-side]
	ti := ThreadInfo{
		ID:        strconv.FormatInt(t.id, 10),
		With:      UserInfo{ID: strconv.FormatInt(o.id, 10), Username: o.name, RealName: o.wire.RealName},
		CreatedAt: t.created, Status: t.status(side),
		Messages: sim.Map(t.msgs, func(m *message) MessageInfo {
			mi := MessageInfo{
				ID: strconv.FormatInt(m.ID, 10), At: m.at, From: Other, Direction: string(sim.Direction(m.side == side)),
				SenderID: strconv.FormatInt(m.Sender.ID, 10), Text: m.Message,
			}
			if m.side == side {
				mi.From = Owner
			}
			return mi
		}),
	}
	if n := len(t.msgs); n > 0 {
		ti.LastMessageAt = t.msgs[n-1].at
	}
	return ti
}

func (t *thread) status(side int) string {
	return sim.If(t.seen[side].Load() < int64(len(t.msgs)), "new", "seen")
}

// Seed bulk-creates threads with new members by sim.Seed, ending now.
func (s *Server) Seed(account string, threads, messagesPerThread int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts.Must(account)
	sim.Seed(time.Time{}, s.now(), threads, max(messagesPerThread, 1), time.Microsecond, nil, func(i int, at time.Time) *thread {
		realName := script.Names[(int(s.userSeq)+i)%len(script.Names)]
		name := strings.ToLower(strings.ReplaceAll(strings.Fields(realName)[0], "é", "e")) + "_" + strconv.FormatInt(s.userSeq+1, 10)
		if s.byName[name] != nil {
			name = s.freshName()
		}
		at = s.stamps.Next(at, s.now)
		return s.pairThread(s.newUser(name, realName, at), a.user, at)
	}, func(t *thread, i, j int, answer bool, at time.Time) {
		s.appendMessage(t, sim.If(answer, 1, 0), script.Line(i, j, answer), s.stamps.Next(at, s.now), false)
	})
	a.index.Sort()
}

// Fill is Seed, which ends now.
func (s *Server) Fill(username string, threads, perThread int) { s.Seed(username, threads, perThread) }

// Traffic makes the inbox live: 20% of events open a thread, 45% are a member's, 35% answers.
func (s *Server) Traffic(ctx context.Context, account string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.accounts, ctx, account, perSecond, rnd, s.trafficStep)
}

// Traffic actions, as trafficStep reports them.
const actNone, actNewThread, actMember, actOwnerAnswer = sim.None, sim.NewThread, "member_message", "owner_answer"

func (s *Server) trafficStep(a *account, rnd *rand.Rand) string {
	p, realName, mbody, obody := rnd.Float64(), sim.Pick(rnd, script.Names), sim.Pick(rnd, script.In), sim.Pick(rnd, script.Out)
	write := func(t *thread, side int, text string) bool {
		s.appendMessage(t, side, text, s.stamps.Next(time.Time{}, s.now), true)
		return true
	}
	return sim.Step(&s.mu, p, func() bool { return a.index.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		at := s.stamps.Next(time.Time{}, s.now)
		t := s.pairThread(s.newUser(s.freshName(), realName, at), a.user, at)
		s.appendMessage(t, 0, mbody, at, true)
		return true
	}}, sim.Event{Name: actMember, Share: 0.45, Do: func() bool {
		t := a.index.At(rnd.IntN(a.index.Len()))
		return write(t, 1-t.side(a.user), mbody)
	}}, sim.Event{Name: actOwnerAnswer, Share: 0.35, Do: func() bool {
		if a.pending.Len() == 0 {
			return false
		}
		t := a.pending.At(rnd.IntN(a.pending.Len()))
		return write(t, t.side(a.user), obody)
	}})
}

// script is what the people of seeded and live traffic say.
var script = sim.Script{
	Names: []string{"Maria Rossi", "Luca Bianchi", "Giulia Romano", "Marco Ricci", "Sara Colombo", "Paolo Greco", "Anna Bruno", "Davide Gallo", "Elena Conti", "Jonas Weber", "Chloé Martin", "Tomás García"},
	In:    []string{"Hi! Is the meetup still on this Saturday?", "Could you share the slides from yesterday's session?", "I can't find the event link, can you send it again?", "Thanks for the help with my profile!", "Do you know when the next webinar is?", "Is there a discount code for community members?"},
	Out:   []string{"Yes, see you there at 10am.", "Sure, here is the link to the slides.", "I've just sent it to you again.", "You're welcome, happy to help!", "Next Thursday, the invite goes out tomorrow."},
}
