package hubspotsim

import (
	"cmp"
	"errors"
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Sender is who writes a message. The zero Sender is deliberately invalid,
// so a forgotten argument is caught.
type Sender int

const (
	// Visitor is the other side (a contact, a visitor of the chat, an
	// e-mail sender): direction INCOMING.
	Visitor Sender = iota + 1
	// Agent is a user of the HubSpot account: direction OUTGOING.
	Agent
)

// String returns the sender's direction as HubSpot writes it.

func (f Sender) String() string { return sim.Name("Sender", int(f), "", "INCOMING", "OUTGOING") }

// Entry types of a thread's history, as the type field says them. Only
// MESSAGE entries are conversation messages.
const (
	TypeMessage = "MESSAGE"
	TypeComment = "COMMENT"
	TypeWelcome = "WELCOME_MESSAGE"
)

// Thread statuses.
const (
	StatusOpen   = "OPEN"
	StatusClosed = "CLOSED"
)

// Channels, as originalChannelId says them.
const (
	ChannelChat  = "1000"
	ChannelEmail = "1002"
)

// threadIDBase makes thread ids look like HubSpot's numeric ones.
const threadIDBase = 7_509_711_000

var (
	clientHubSpot = &wireClient{ClientType: "HUBSPOT"}
	statusSent    = &wireStatus{StatusType: "SENT"}
	noActors      = []wireActor{}
	noAttachments = []wireAttachment{}
)

// NewThread describes a thread for AddThread. Every field is optional.
type NewThread struct {
	// InboxID is the inbox; default the account's (InboxID).
	InboxID string
	// Visitor is the other side's display name; default "Visitor <n>".
	// Each thread gets a contact of its own.
	Visitor string
	// Channel is the originalChannelId: ChannelChat (default) or
	// ChannelEmail.
	Channel string
	// TicketID associates a ticket, which threadAssociations shows when
	// asked with association=TICKET.
	TicketID string
	// Welcome, when set, opens the thread with a WELCOME_MESSAGE entry
	// (not a conversation message) from the account.
	Welcome string
	// At is the creation time; zero means now (see AddMessage about times).
	At time.Time
}

// Attachment is a file attached to a message. Only its metadata is kept.
type Attachment struct {
	ID   string // fileId; generated when empty
	Name string
}

// ThreadInfo is the ground truth about a thread, for assertions.
type ThreadInfo struct {
	ID, InboxID, ContactID, Visitor, TicketID string
	Status                                    string // StatusOpen or StatusClosed
	Archived                                  bool
	CreatedAt                                 time.Time
	// LatestMessageAt is latestMessageTimestamp: the newest entry of any
	// type; zero for a thread without any.
	LatestMessageAt time.Time
	// ReplyNeeded is hubspot.md's rule: the thread is OPEN and its newest
	// MESSAGE is the visitor's.
	ReplyNeeded bool
	// Messages are the MESSAGE entries, oldest first.
	Messages []MessageInfo
	// Activity are the other entries (comments, welcome messages), oldest
	// first.
	Activity []MessageInfo
}

// MessageInfo is the ground truth about an entry of a thread's history.
type MessageInfo struct {
	ID   string
	Type string
	At   time.Time
	From Sender
	// Direction is "inbound" (Visitor) or "outbound" (Agent), the way
	// threadsync's events name it; "" for entries that are not messages.
	Direction   string
	Text        string
	Attachments []Attachment
}

var (
	errUnknownThread = errors.New("hubspotsim: unknown thread")
	errBadSender     = errors.New("hubspotsim: invalid sender")
	errBadStatus     = errors.New("hubspotsim: status must be OPEN or CLOSED")
)

type account struct {
	portal         string
	inbox          string
	agent          wireActor
	fromAgent      []wireActor // shared, never modified
	channelAccount string
	daily          *daily

	sync.RWMutex // guards what follows
	threads      map[string]*thread
	msgs         map[string]*message
	// byID and byLatest index the threads, active ones at [0] and archived
	// ones at [1]: by id (the default order) and by (latest entry, id).
	byID     [2]sim.Index[int64, *thread]
	byLatest [2]sim.Index[int64, *thread]
	// pending holds the threads awaiting a reply, for Traffic.
	pending sim.Set[*thread]
	stamps  sim.Stamps // see stamp
}

// thread is guarded by its account's mu.
type thread struct {
	id             int64
	idStr          string
	inbox          string
	contact        string
	visitorName    string
	fromVisitor    []wireActor // shared, never modified
	toVisitor      []wireActor
	channel        string
	channelAccount string
	ticket         string
	created        time.Time
	createdStr     string
	status         string
	closedStr      string
	archived       bool
	assigned       string
	// latestNs orders the thread by its latest entry; it is the creation
	// time until there is one (hasLatest), and latestStr is then "".
	latestNs    int64
	hasLatest   bool
	latestStr   string
	sentNs      int64
	sentStr     string
	receivedNs  int64
	receivedStr string
	msgs        []*message // sorted by time
	indexed     bool
}

// message is immutable once created, so responses share it without a lock.
type message struct {
	id   string
	typ  string
	from Sender
	at   time.Time
	ns   int64
	text string // whole, even when the wire form is truncated
	atts []Attachment
	wire *wireMessage
}

func newAccount(portal string, n, dailyLimit int) *account {
	a := &account{
		portal:         portal,
		inbox:          strconv.Itoa(147_959_634 + n),
		agent:          wireActor{ActorID: "A-" + strconv.Itoa(4242+n), Name: "Agent Smith"},
		channelAccount: strconv.Itoa(240_039 + n),
		daily:          &daily{limit: dailyLimit, loc: time.UTC},
		threads:        make(map[string]*thread),
		msgs:           make(map[string]*message),
		stamps:         sim.Stamps{Unit: time.Millisecond},
	}
	a.fromAgent = []wireActor{a.agent}
	for k := range 2 {
		a.byID[k].Key = func(t *thread) (int64, int64) { return t.id, 0 }
		a.byLatest[k].Key = func(t *thread) (int64, int64) { return t.latestNs, t.id }
	}
	return a
}

// stamp returns the time of a new event, to the millisecond as HubSpot
// writes them. Taken from the clock, it is strictly later than every time
// the account handed out before: that keeps latestMessageTimestamp
// increasing, which is what makes a walk sorted by it lose nothing. Call
// with a.mu held.
func (a *account) stamp(at time.Time, now func() time.Time) time.Time {
	return a.stamps.Next(at.Truncate(time.Millisecond), now)
}

func arch(t *thread) int {
	if t.archived {
		return 1
	}
	return 0
}

// index adds t to the indexes of its archived state.
func (a *account) index(t *thread) {
	a.byID[arch(t)].Insert(t)
	a.byLatest[arch(t)].Insert(t)
	t.indexed = true
}

// unindex removes t from the indexes of its archived state.
func (a *account) unindex(t *thread) {
	a.byID[arch(t)].Remove(t)
	a.byLatest[arch(t)].Remove(t)
}

// setLatest moves t in the latest-entry index. Threads not indexed yet
// (Seed builds them in bulk and sorts once) only get their new time.
func (a *account) setLatest(t *thread, m *message) {
	if t.indexed {
		a.byLatest[arch(t)].Remove(t)
	}
	t.latestNs, t.hasLatest, t.latestStr = m.ns, true, m.wire.CreatedAt
	if t.indexed {
		a.byLatest[arch(t)].Insert(t)
	}
}

func (t *thread) replyNeeded() bool {
	return t.status == StatusOpen && t.receivedStr != "" && (t.sentStr == "" || t.receivedNs > t.sentNs)
}

func (a *account) setPending(t *thread) { a.pending.Put(t, t.replyNeeded()) }

// newThread builds a thread, with its welcome entry if any, without putting
// it in the indexes. Call with a.mu held.
func (s *Server) newThread(a *account, in NewThread, at time.Time) *thread {
	n := s.threadSeq.Add(1)
	contact := strconv.FormatUint(12_000+s.contactSeq.Add(1), 10)
	if in.InboxID == "" {
		in.InboxID = a.inbox
	}
	if in.Visitor == "" {
		in.Visitor = "Visitor " + contact
	}
	if in.Channel == "" {
		in.Channel = ChannelChat
	}
	visitor := wireActor{ActorID: "V-" + contact, Name: in.Visitor}
	withAddress := visitor
	withAddress.DeliveryIdentifier = &wireDelivery{Type: "HS_EMAIL_ADDRESS", Value: "visitor" + contact + "@example.invalid"}
	t := &thread{
		id:             threadIDBase + int64(n),
		inbox:          in.InboxID,
		contact:        contact,
		visitorName:    in.Visitor,
		fromVisitor:    []wireActor{withAddress},
		toVisitor:      []wireActor{visitor},
		channel:        in.Channel,
		channelAccount: a.channelAccount,
		ticket:         in.TicketID,
		created:        at,
		createdStr:     formatTime(at),
		status:         StatusOpen,
		latestNs:       at.UnixNano(),
	}
	t.idStr = strconv.FormatInt(t.id, 10)
	a.threads[t.idStr] = t
	if in.Welcome != "" {
		s.appendEntry(a, t, TypeWelcome, Agent, in.Welcome, nil, at)
	}
	return t
}

// appendEntry adds an entry to a thread's history and updates everything
// that depends on it: latestMessageTimestamp (and so the thread's place in
// the latest-entry order) for every type; for messages the sent or
// received time, the assignee (the agent who answers), the reply-needed
// state, and the status (a visitor writing in a CLOSED thread reopens it,
// as HubSpot does with new incoming messages). Call with a.mu held.
func (s *Server) appendEntry(a *account, t *thread, typ string, from Sender, text string, atts []Attachment, at time.Time) *message {
	at = a.stamp(at, s.now)
	m := &message{id: s.messageID(), typ: typ, from: from, at: at, ns: at.UnixNano(), text: text}
	for _, f := range atts {
		if f.ID == "" {
			f.ID = strconv.FormatUint(90_000_000+s.msgSeq.Add(1), 10)
		}
		m.atts = append(m.atts, f)
	}
	m.wire = s.wireMessage(a, t, m)
	i := len(t.msgs)
	for i > 0 && t.msgs[i-1].ns > m.ns {
		i--
	}
	t.msgs = slices.Insert(t.msgs, i, m)
	a.msgs[m.id] = m

	if typ == TypeMessage {
		switch from {
		case Visitor:
			if t.receivedStr == "" || m.ns > t.receivedNs {
				t.receivedNs, t.receivedStr = m.ns, m.wire.CreatedAt
			}
			if t.status == StatusClosed {
				t.status, t.closedStr = StatusOpen, ""
			}
		case Agent:
			if t.sentStr == "" || m.ns > t.sentNs {
				t.sentNs, t.sentStr = m.ns, m.wire.CreatedAt
			}
			if t.assigned == "" {
				t.assigned = a.agent.ActorID
			}
		}
		a.setPending(t)
	}
	if !t.hasLatest || m.ns > t.latestNs {
		a.setLatest(t, m)
	}
	return m
}

// wireMessage builds the JSON form of an entry.
func (s *Server) wireMessage(a *account, t *thread, m *message) *wireMessage {
	ts := formatTime(m.at)
	w := &wireMessage{
		Type: m.typ, ID: m.id, ConversationsThreadID: t.idStr,
		CreatedAt: ts, UpdatedAt: ts, Client: clientHubSpot, Attachments: noAttachments,
	}
	text := m.text
	if m.typ == TypeComment {
		w.CreatedBy = a.agent.ActorID
	} else {
		w.Senders, w.Recipients, w.Direction = t.fromVisitor, noActors, Visitor.String()
		if m.from == Agent {
			w.Senders, w.Recipients, w.Direction = a.fromAgent, t.toVisitor, Agent.String()
		}
		w.CreatedBy = w.Senders[0].ActorID
		w.Status, w.ChannelID, w.ChannelAccountID = statusSent, t.channel, t.channelAccount
		w.TruncationStatus = "NOT_TRUNCATED"
		if n := s.cfg.TruncateAt; n > 0 && len(text) > n {
			for n > 0 && !utf8.RuneStart(text[n]) {
				n--
			}
			text, w.TruncationStatus = text[:n], "TRUNCATED"
		}
	}
	w.Text = text
	w.RichText = "<p>" + html.EscapeString(text) + "</p>"
	if len(m.atts) > 0 {
		w.Attachments = make([]wireAttachment, len(m.atts))
		for i, f := range m.atts {
			w.Attachments[i] = wireAttachment{
				FileID: f.ID, FileUsageType: "STANDARD", Name: f.Name, Type: "FILE",
				URL: "https://files.example.invalid/" + f.ID + "/" + f.Name,
			}
		}
	}
	return w
}

// wire builds the JSON form of the thread. Call with a.mu held (read is
// enough).
func (t *thread) wire(tickets bool) wireThread {
	w := wireThread{
		ID: t.idStr, InboxID: t.inbox, Status: t.status, Archived: t.archived,
		AssociatedContactID: t.contact, AssignedTo: t.assigned,
		OriginalChannelID: t.channel, OriginalChannelAccountID: t.channelAccount,
		CreatedAt: t.createdStr, ClosedAt: t.closedStr,
		LatestMessageTimestamp:         t.latestStr,
		LatestMessageSentTimestamp:     t.sentStr,
		LatestMessageReceivedTimestamp: t.receivedStr,
	}
	if tickets && t.ticket != "" {
		w.ThreadAssociations = &wireAssociations{AssociatedTicketID: t.ticket}
	}
	return w
}

func (t *thread) info() ThreadInfo {
	ti := ThreadInfo{
		ID: t.idStr, InboxID: t.inbox, ContactID: t.contact, Visitor: t.visitorName, TicketID: t.ticket,
		Status: t.status, Archived: t.archived, CreatedAt: t.created, ReplyNeeded: t.replyNeeded(),
		Messages: []MessageInfo{},
	}
	if t.hasLatest {
		ti.LatestMessageAt = time.Unix(0, t.latestNs).UTC()
	}
	for _, m := range t.msgs {
		mi := MessageInfo{ID: m.id, Type: m.typ, At: m.at, From: m.from, Text: m.text, Attachments: slices.Clone(m.atts)}
		if m.typ != TypeMessage {
			ti.Activity = append(ti.Activity, mi)
			continue
		}
		mi.Direction = string(sim.Direction(m.from == Agent))
		ti.Messages = append(ti.Messages, mi)
	}
	return ti
}

// AddThread creates a thread (without messages, unless in.Welcome asks for
// a welcome entry) and returns its id. It panics if the account is
// unknown: that is a mistake in the test.
func (s *Server) AddThread(portal string, in NewThread) string {
	return sim.Edit(&s.accounts, portal, func(a *account) string {
		t := s.newThread(a, in, a.stamp(in.At, s.now))
		a.index(t)
		return t.idStr
	})
}

// AddMessage appends a message (type MESSAGE) to a thread and returns its
// id. The thread's latestMessageTimestamp becomes the message's time, which
// moves it in the latestMessageTimestamp order.
//
// A zero at means now by Config.Now, made strictly later (by at least a
// millisecond) than any time the account handed out before, so two calls
// never share an instant. An explicit at is used as given, to the
// millisecond; keep explicit times increasing if the walk order matters to
// the test.
//
// AddMessage panics if the account or thread is unknown or the sender is
// invalid: all mistakes in the test's setup.
func (s *Server) AddMessage(portal, threadID string, from Sender, text string, at time.Time) string {
	return s.AddMessageWithAttachments(portal, threadID, from, text, at)
}

// AddMessageWithAttachments is AddMessage with files on the message.
func (s *Server) AddMessageWithAttachments(portal, threadID string, from Sender, text string, at time.Time, files ...Attachment) string {
	if from != Visitor && from != Agent {
		panic(errBadSender)
	}
	return s.edit(portal, threadID, func(a *account, t *thread) string { return s.appendEntry(a, t, TypeMessage, from, text, files, at).id })
}

// AddComment adds an internal note (type COMMENT) by the account's agent:
// it moves latestMessageTimestamp but is no conversation message.
func (s *Server) AddComment(portal, threadID, text string, at time.Time) string {
	return s.edit(portal, threadID, func(a *account, t *thread) string { return s.appendEntry(a, t, TypeComment, Agent, text, nil, at).id })
}

// edit runs f on a thread with its account's lock held; it panics on an
// unknown account or thread.
func (s *Server) edit(portal, threadID string, f func(a *account, t *thread) string) string {
	return sim.Edit(&s.accounts, portal, func(a *account) string {
		t := a.threads[threadID]
		if t == nil {
			panic(fmt.Errorf("%w %q in account %q", errUnknownThread, threadID, portal))
		}
		return f(a, t)
	})
}

// SetStatus opens or closes a thread (StatusOpen, StatusClosed). Closing
// sets closedAt; neither adds an entry nor moves latestMessageTimestamp.
// It panics on an unknown account, thread or status.
func (s *Server) SetStatus(portal, threadID, status string, at time.Time) {
	if status != StatusOpen && status != StatusClosed {
		panic(errBadStatus)
	}
	s.edit(portal, threadID, func(a *account, t *thread) string {
		if t.status != status {
			t.status, t.closedStr = status, ""
			if status == StatusClosed {
				t.closedStr = formatTime(a.stamp(at, s.now))
			}
			a.setPending(t)
		}
		return ""
	})
}

// SetArchived moves a thread to the trash (true) or back (false). Archived
// threads are listed only with archived=true. It panics on an unknown
// account or thread.
func (s *Server) SetArchived(portal, threadID string, archived bool) {
	s.edit(portal, threadID, func(a *account, t *thread) string {
		if t.archived != archived {
			a.unindex(t)
			t.archived = archived
			a.index(t)
		}
		return ""
	})
}

// Threads returns the ground truth of an account's inbox in id order
// (creation order), archived threads included, or nil for an unknown
// account.
func (s *Server) Threads(portal string) []ThreadInfo {
	out, _ := sim.View(&s.accounts, portal, func(a *account) []ThreadInfo {
		all := slices.Concat(a.byID[0].Items(), a.byID[1].Items())
		slices.SortFunc(all, func(x, y *thread) int { return cmp.Compare(x.id, y.id) })
		out := make([]ThreadInfo, len(all))
		for i, t := range all {
			out[i] = t.info()
		}
		return out
	})
	return out
}

// Thread returns the ground truth of one thread.
func (s *Server) Thread(portal, threadID string) (ThreadInfo, bool) {
	return sim.Lookup(&s.accounts, portal, func(a *account) (ThreadInfo, bool) {
		t := a.threads[threadID]
		if t == nil {
			return ThreadInfo{}, false
		}
		return t.info(), true
	})
}

// minKey is below every (time, id) key.
const minKey = math.MinInt64
