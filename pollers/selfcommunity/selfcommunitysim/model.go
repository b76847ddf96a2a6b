package selfcommunitysim

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// From says who writes a message, seen from an account.
type From int

// The writers of a message. The zero From is deliberately invalid, so a
// forgotten argument is caught.
const (
	// Other is the other participant of the thread: an inbound message.
	Other From = iota + 1
	// Owner is the account's own user: an outbound message.
	Owner
)

// String names the writer.

func (f From) String() string { return sim.Name("From", int(f), "", "other", "owner") }

// NewThread describes the first message of a thread for AddThread. Every
// field is optional.
type NewThread struct {
	// With is the username of the other participant; default a new user.
	// An existing user with whom the account already has a thread gets
	// the message in that thread: SelfCommunity has one thread per pair.
	With string
	// RealName is the other participant's real name when AddThread
	// creates the user.
	RealName string
	// From writes the first message: Other (default) or Owner.
	From From
	// Text is the first message; default a question.
	Text string
	// At is its time; zero means now (see AddMessage about times).
	At time.Time
}

// ThreadInfo is the ground truth about a thread, seen from one account.
type ThreadInfo struct {
	ID string
	// With is the other participant.
	With          UserInfo
	CreatedAt     time.Time
	LastMessageAt time.Time
	// Status is the account's thread_status: "new" or "seen".
	Status   string
	Messages []MessageInfo // oldest first
}

// UserInfo is the ground truth about a user.
type UserInfo struct {
	ID, Username, RealName string
}

// MessageInfo is the ground truth about a message, seen from one account.
type MessageInfo struct {
	ID       string
	At       time.Time
	From     From
	SenderID string
	// Direction is "inbound" (the other participant) or "outbound" (the
	// account's user), the way threadsync's events name it.
	Direction string
	Text      string
}

var (
	errUnknownThread = errors.New("selfcommunitysim: unknown thread")
	errBadFrom       = errors.New("selfcommunitysim: invalid From")
	errSelf          = errors.New("selfcommunitysim: a user cannot write to themself")
)

type user struct {
	id   int64
	name string
	wire *wireUser
	acct *account // nil for users without a token
}

// thread is guarded by Server.mu, except seen, which readers update.
type thread struct {
	id         int64
	users      [2]*user // users[0] wrote first
	created    time.Time
	createdStr string
	msgs       []*message // by id, append-only
	lastNs     int64      // time of the last message, UnixNano: the index key
	lastStr    string
	// seen is how many messages each side has fetched or written; more
	// than that means thread_status "new".
	seen   [2]atomic.Int64
	hidden [2]bool
}

// side returns u's index in t.users, or -1.
func (t *thread) side(u *user) int {
	switch u {
	case t.users[0]:
		return 0
	case t.users[1]:
		return 1
	}
	return -1
}

// userNamed returns the user with the name, creating it. Call with s.mu held.
func (s *Server) userNamed(name string) *user {
	if u := s.byName[name]; u != nil {
		return u
	}
	return s.newUser(name, "", time.Time{})
}

// newUser creates a user who joined at joined (zero: now). Call with s.mu
// held and name unused.
func (s *Server) newUser(name, realName string, joined time.Time) *user {
	s.userSeq++
	u := &user{id: s.userSeq, name: name}
	u.wire = &wireUser{ID: u.id, Username: name, RealName: realName, Status: "a", DateJoined: s.formatTime(s.stampLocked(joined))}
	s.users[u.id] = u
	s.byName[name] = u
	return u
}

// stampLocked returns the time of a new event, to the microsecond the API
// shows: when taken from the clock, strictly later than any time handed out
// before, so that two events never share an instant. Call with s.mu held.
func (s *Server) stampLocked(at time.Time) time.Time {
	return s.stamps.Next(at.Truncate(time.Microsecond), s.now)
}

func (s *Server) mustAccount(name string) *account { return s.accounts.Must(name) }

func (s *Server) mustThread(a *account, threadID string) (*thread, int) {
	id, err := strconv.ParseInt(threadID, 10, 64)
	t := s.threads[id]
	if err != nil || t == nil || t.side(a.user) < 0 {
		panic(fmt.Errorf("%w %q for account %q", errUnknownThread, threadID, a.user.name))
	}
	return t, t.side(a.user)
}

// pairThread returns the thread of the pair, creating it (without messages).
// Call with s.mu held.
func (s *Server) pairThread(first, second *user, at time.Time) *thread {
	key := [2]int64{min(first.id, second.id), max(first.id, second.id)}
	if t := s.pairs[key]; t != nil {
		return t
	}
	s.thrSeq++
	t := &thread{
		id: s.thrSeq, users: [2]*user{first, second},
		created: at, createdStr: s.formatTime(at),
	}
	s.threads[t.id] = t
	s.pairs[key] = t
	return t
}

// appendMessage adds a message written by side and updates what depends on
// it: the thread's place in the inboxes of its participants (a hidden thread
// shows again), their pending sets, thread_status. With reindex false the
// inboxes are not touched: Seed sorts them once at the end. Call with s.mu
// held.
func (s *Server) appendMessage(t *thread, side int, text string, at time.Time, reindex bool) *message {
	sender, receiver := t.users[side], t.users[1-side]
	m := &message{
		ID: s.nextMsgID(), ThreadID: t.id, Message: text,
		Sender: sender.wire, Receiver: receiver.wire,
		CreatedAt: s.formatTime(at), Status: "created",
		at: at, side: side,
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

func (s *Server) nextMsgID() int64 {
	s.msgSeq++
	return s.msgSeq
}

// setPending puts t in or out of a's pending set after its last message.
func (s *Server) setPending(a *account, t *thread) {
	i := t.side(a.user)
	a.pending.Put(t, len(t.msgs) > 0 && t.msgs[len(t.msgs)-1].side != i && !t.hidden[i])
}

// AddThread writes the first message of a thread between the account and
// another user and returns the thread's id; see NewThread. It panics if the
// account is unknown or With names the account itself.
func (s *Server) AddThread(account string, in NewThread) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(account)
	var other *user
	if in.With == "" {
		other = s.newUser(s.freshName(), in.RealName, in.At)
	} else if other = s.byName[in.With]; other == nil {
		other = s.newUser(in.With, in.RealName, in.At)
	}
	if other == a.user {
		panic(errSelf)
	}
	if in.From == 0 {
		in.From = Other
	}
	if in.Text == "" {
		in.Text = "Hi! Do you have a minute?"
	}
	at := s.stampLocked(in.At)
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

// freshName is an unused username. Call with s.mu held.
func (s *Server) freshName() string {
	for n := s.userSeq + 1; ; n++ {
		name := "member_" + strconv.FormatInt(n, 10)
		if s.byName[name] == nil {
			return name
		}
	}
}

// AddMessage appends a message to one of the account's threads, written by
// the account's user (Owner) or the other participant (Other), and returns
// the message's id. The thread moves to the front of both participants'
// snippet lists.
//
// A zero at means now by Config.Now, made strictly later than any time
// handed out before. An explicit at is used as given (to the microsecond);
// keep explicit times increasing if the order matters to the test.
//
// AddMessage panics if the account or thread is unknown or the account does
// not take part in the thread: mistakes in the test's setup.
func (s *Server) AddMessage(account, threadID string, from From, text string, at time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(account)
	t, side := s.mustThread(a, threadID)
	switch from {
	case Owner:
	case Other:
		side = 1 - side
	default:
		panic(errBadFrom)
	}
	m := s.appendMessage(t, side, text, s.stampLocked(at), true)
	return strconv.FormatInt(m.ID, 10)
}

// HideThread hides a thread from the account's inbox, as DELETE
// /api/v2/pm/?thread= does for the logged user: it leaves the snippet list
// (and the ground truth) until a new message brings it back. The other
// participant still sees it. It panics on an unknown account or thread.
func (s *Server) HideThread(account, threadID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(account)
	t, side := s.mustThread(a, threadID)
	if t.hidden[side] {
		return
	}
	a.index.Remove(t)
	t.hidden[side] = true
	s.setPending(a, t)
}

// Threads returns the ground truth of the account's inbox, threads by id
// (creation order), hidden ones left out; nil for an unknown account.
func (s *Server) Threads(account string) []ThreadInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, err := s.accounts.Get(account)
	if err != nil {
		return nil
	}
	ts := slices.Clone(a.index.Items())
	slices.SortFunc(ts, func(x, y *thread) int { return cmp.Compare(x.id, y.id) })
	out := make([]ThreadInfo, len(ts))
	for i, t := range ts {
		out[i] = t.info(t.side(a.user))
	}
	return out
}

// Thread returns the ground truth of one of the account's threads, hidden
// or not.
func (s *Server) Thread(account, threadID string) (ThreadInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, _ := s.accounts.Get(account)
	id, err := strconv.ParseInt(threadID, 10, 64)
	if a == nil || err != nil {
		return ThreadInfo{}, false
	}
	t := s.threads[id]
	if t == nil || t.side(a.user) < 0 {
		return ThreadInfo{}, false
	}
	return t.info(t.side(a.user)), true
}

func (t *thread) info(side int) ThreadInfo {
	o := t.users[1-side]
	ti := ThreadInfo{
		ID:        strconv.FormatInt(t.id, 10),
		With:      UserInfo{ID: strconv.FormatInt(o.id, 10), Username: o.name, RealName: o.wire.RealName},
		CreatedAt: t.created,
		Status:    t.status(side),
		Messages:  make([]MessageInfo, len(t.msgs)),
	}
	for i, m := range t.msgs {
		mi := MessageInfo{
			ID: strconv.FormatInt(m.ID, 10), At: m.at, From: Other, Direction: string(sim.Direction(m.side == side)),
			SenderID: strconv.FormatInt(m.Sender.ID, 10), Text: m.Message,
		}
		if m.side == side {
			mi.From = Owner
		}
		ti.Messages[i] = mi
	}
	if n := len(t.msgs); n > 0 {
		ti.LastMessageAt = t.msgs[n-1].at
	}
	return ti
}

func (t *thread) status(side int) string {
	if t.seen[side].Load() < int64(len(t.msgs)) {
		return "new"
	}
	return "seen"
}
