package hubspotsim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Sender is who writes a message; the zero Sender is invalid.
type Sender int

// The two sides of a HubSpot thread.
const (
	Visitor Sender = iota + 1 // the contact, visitor or e-mail sender: INCOMING
	Agent                     // a user of the account: OUTGOING
)

// String returns the sender's direction as HubSpot writes it.
func (f Sender) String() string { return sim.Name("Sender", int(f), "", "INCOMING", "OUTGOING") }

// Entry types (only MESSAGE entries are messages), statuses, and originalChannelId channels.
const (
	TypeMessage  = "MESSAGE"
	TypeComment  = "COMMENT"
	TypeWelcome  = "WELCOME_MESSAGE"
	StatusOpen   = "OPEN"
	StatusClosed = "CLOSED"
	ChannelChat  = "1000"
	ChannelEmail = "1002"
	threadIDBase = 7_509_711_000
	minKey       = math.MinInt64 // below every (time, id) key
)

var (
	clientHubSpot = &wireClient{ClientType: "HUBSPOT"}
	statusSent    = &wireStatus{StatusType: "SENT"}
	noActors      = []wireActor{}
)

// NewThread describes a thread for AddThread; every field is optional.
type NewThread struct {
	InboxID, Visitor string    // default the account's inbox, "Visitor <n>" (a new contact)
	Channel          string    // ChannelChat (default) or ChannelEmail
	TicketID         string    // shown with association=TICKET
	Welcome          string    // opens the thread with a WELCOME_MESSAGE entry
	At               time.Time // the creation time; zero means now
}

// Attachment is a file's metadata; ID (fileId) is generated when empty.
type Attachment struct {
	ID, Name string
}

// ThreadInfo is the ground truth about a thread.
type ThreadInfo struct {
	ID, InboxID, ContactID, Visitor, TicketID string
	Status                                    string
	Archived                                  bool
	CreatedAt                                 time.Time
	LatestMessageAt                           time.Time // latestMessageTimestamp: the newest entry of any type
	// ReplyNeeded is hubspot.md's rule: OPEN, and the newest MESSAGE is the visitor's.
	ReplyNeeded        bool
	Messages, Activity []MessageInfo // MESSAGE entries, the others
}

// MessageInfo is the ground truth about an entry; Direction is "" but for messages.
type MessageInfo struct {
	ID, Type        string
	At              time.Time
	From            Sender
	Direction, Text string
	Attachments     []Attachment
}

type (
	account struct {
		portal, inbox, channelAccount string
		agent                         wireActor
		fromAgent                     []wireActor // shared, never modified
		daily                         *daily

		sync.RWMutex // guards what follows
		threads      map[string]*thread
		msgs         map[string]*message
		// byID and byLatest index the active (0) and archived (1) threads by id and by (latest entry, id).
		byID, byLatest [2]sim.Index[int64, *thread]
		pending        sim.Set[*thread] // awaiting a reply
		stamps         sim.Stamps
	}
	// thread is guarded by its account's lock.
	thread struct {
		id                                      int64
		idStr, inbox, contact, visitorName      string
		fromVisitor, toVisitor                  []wireActor // shared, never modified
		channel, channelAccount, ticket         string
		created                                 time.Time
		createdStr, status, closedStr, assigned string
		archived                                bool
		// latestNs, the index key, is the creation time until an entry.
		latestNs, sentNs, receivedNs    int64
		hasLatest                       bool
		latestStr, sentStr, receivedStr string
		msgs                            []*message // by time
	}
	// message is immutable, so responses share it without a lock.
	message struct {
		id, typ string
		from    Sender
		at      time.Time
		ns      int64
		text    string // whole, even when the wire form is truncated
		atts    []Attachment
		wire    *wireMessage
	}
)

func newAccount(portal string, n, dailyLimit int) *account {
	a := &account{
		portal: portal, inbox: strconv.Itoa(147_959_634 + n), channelAccount: strconv.Itoa(240_039 + n),
		agent:   wireActor{ActorID: "A-" + strconv.Itoa(4242+n), Name: "Agent Smith"},
		daily:   &daily{limit: dailyLimit, loc: time.UTC},
		threads: make(map[string]*thread), msgs: make(map[string]*message),
		stamps: sim.Stamps{Unit: time.Millisecond, Coarse: true},
	}
	a.fromAgent = []wireActor{a.agent}
	for k := range 2 {
		a.byID[k].Key = func(t *thread) (int64, int64) { return t.id, 0 }
		a.byLatest[k].Key = func(t *thread) (int64, int64) { return t.latestNs, t.id }
	}
	return a
}

// arch is the index of archived threads when archived, else of active ones.
func arch(archived bool) int { return sim.If(archived, 1, 0) }

// index adds t to the indexes of its archived state.
func (a *account) index(t *thread) {
	a.byID[arch(t.archived)].Insert(t)
	a.byLatest[arch(t.archived)].Insert(t)
}

func (t *thread) replyNeeded() bool {
	return t.status == StatusOpen && t.receivedStr != "" && (t.sentStr == "" || t.receivedNs > t.sentNs)
}

func (a *account) setPending(t *thread) { a.pending.Put(t, t.replyNeeded()) }

// newThread builds a thread, not indexed yet. Call with a locked.
func (s *Server) newThread(a *account, in NewThread, at time.Time) *thread {
	n := s.threadSeq.Add(1)
	contact := strconv.FormatUint(12_000+s.contactSeq.Add(1), 10)
	in.InboxID = cmp.Or(in.InboxID, a.inbox)
	in.Visitor = cmp.Or(in.Visitor, "Visitor "+contact)
	in.Channel = cmp.Or(in.Channel, ChannelChat)
	visitor := wireActor{ActorID: "V-" + contact, Name: in.Visitor}
	withAddress := visitor
	withAddress.DeliveryIdentifier = &wireDelivery{Type: "HS_EMAIL_ADDRESS", Value: "visitor" + contact + "@example.invalid"}
	t := &thread{
		id: threadIDBase + int64(n), inbox: in.InboxID, contact: contact, visitorName: in.Visitor,
		fromVisitor: []wireActor{withAddress}, toVisitor: []wireActor{visitor},
		channel: in.Channel, channelAccount: a.channelAccount, ticket: in.TicketID,
		created: at, createdStr: formatTime(at), status: StatusOpen, latestNs: at.UnixNano(),
	}
	t.idStr = strconv.FormatInt(t.id, 10)
	a.threads[t.idStr] = t
	if in.Welcome != "" {
		s.appendEntry(a, t, TypeWelcome, Agent, in.Welcome, nil, at)
	}
	return t
}

// appendEntry adds an entry: every type moves latestMessageTimestamp (HubSpot does not say),
// and a visitor's message reopens a CLOSED thread, as HubSpot does.
func (s *Server) appendEntry(a *account, t *thread, typ string, from Sender, text string, atts []Attachment, at time.Time) *message {
	at = a.stamps.Next(at, s.now)
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
		a.byLatest[arch(t.archived)].Move(t, func() { t.latestNs, t.hasLatest, t.latestStr = m.ns, true, m.wire.CreatedAt })
	}
	return m
}

func (s *Server) wireMessage(a *account, t *thread, m *message) *wireMessage {
	ts := formatTime(m.at)
	w := &wireMessage{
		Type: m.typ, ID: m.id, ConversationsThreadID: t.idStr,
		CreatedAt: ts, UpdatedAt: ts, Client: clientHubSpot,
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
	w.Text, w.RichText = text, "<p>"+html.EscapeString(text)+"</p>"
	w.Attachments = sim.Map(m.atts, func(f Attachment) wireAttachment { // never nil: [] without files
		return wireAttachment{
			FileID: f.ID, FileUsageType: "STANDARD", Name: f.Name, Type: "FILE",
			URL: "https://files.example.invalid/" + f.ID + "/" + f.Name,
		}
	})
	return w
}

func (t *thread) wire(tickets bool) wireThread {
	w := wireThread{
		ID: t.idStr, InboxID: t.inbox, Status: t.status, Archived: t.archived,
		AssociatedContactID: t.contact, AssignedTo: t.assigned,
		OriginalChannelID: t.channel, OriginalChannelAccountID: t.channelAccount,
		CreatedAt: t.createdStr, ClosedAt: t.closedStr, LatestMessageTimestamp: t.latestStr,
		LatestMessageSentTimestamp: t.sentStr, LatestMessageReceivedTimestamp: t.receivedStr,
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

// AddThread creates a thread; it panics on an unknown account.
func (s *Server) AddThread(portal string, in NewThread) string {
	return sim.Edit(&s.accounts, portal, func(a *account) string {
		t := s.newThread(a, in, a.stamps.Next(in.At, s.now))
		a.index(t)
		return t.idStr
	})
}

// AddMessage appends a MESSAGE at at (zero: now) and returns its id.
func (s *Server) AddMessage(portal, threadID string, from Sender, text string, at time.Time) string {
	return s.AddMessageWithAttachments(portal, threadID, from, text, at)
}

// AddMessageWithAttachments is AddMessage with files.
func (s *Server) AddMessageWithAttachments(portal, threadID string, from Sender, text string, at time.Time, files ...Attachment) string {
	if from != Visitor && from != Agent {
		panic(errors.New("hubspotsim: invalid sender"))
	}
	return s.edit(portal, threadID, func(a *account, t *thread) string { return s.appendEntry(a, t, TypeMessage, from, text, files, at).id })
}

// AddComment adds an internal note (COMMENT) by the agent.
func (s *Server) AddComment(portal, threadID, text string, at time.Time) string {
	return s.edit(portal, threadID, func(a *account, t *thread) string { return s.appendEntry(a, t, TypeComment, Agent, text, nil, at).id })
}

func (s *Server) edit(portal, threadID string, f func(a *account, t *thread) string) string {
	return sim.Edit(&s.accounts, portal, func(a *account) string {
		t := a.threads[threadID]
		if t == nil {
			panic(fmt.Errorf("hubspotsim: unknown thread %q in account %q", threadID, portal))
		}
		return f(a, t)
	})
}

// SetStatus opens or closes a thread without an entry.
func (s *Server) SetStatus(portal, threadID, status string, at time.Time) {
	if status != StatusOpen && status != StatusClosed {
		panic(errors.New("hubspotsim: status must be OPEN or CLOSED"))
	}
	s.edit(portal, threadID, func(a *account, t *thread) string {
		if t.status != status {
			t.status, t.closedStr = status, ""
			if status == StatusClosed {
				t.closedStr = formatTime(a.stamps.Next(at, s.now))
			}
			a.setPending(t)
		}
		return ""
	})
}

// SetArchived moves a thread to the trash, listed only with archived=true.
func (s *Server) SetArchived(portal, threadID string, archived bool) {
	s.edit(portal, threadID, func(a *account, t *thread) string {
		if t.archived != archived {
			a.byID[arch(t.archived)].Remove(t)
			a.byLatest[arch(t.archived)].Remove(t)
			t.archived = archived
			a.index(t)
		}
		return ""
	})
}

// Threads is the account's inbox in id order, archived threads included.
func (s *Server) Threads(portal string) []ThreadInfo {
	out, _ := sim.View(&s.accounts, portal, func(a *account) []ThreadInfo {
		all := slices.Concat(a.byID[0].Items(), a.byID[1].Items())
		slices.SortFunc(all, func(x, y *thread) int { return cmp.Compare(x.id, y.id) })
		return sim.Map(all, (*thread).info)
	})
	return out
}

// Thread returns the ground truth of one thread.
func (s *Server) Thread(portal, threadID string) (ThreadInfo, bool) {
	return sim.Find(&s.accounts, portal, func(a *account) *thread { return a.threads[threadID] }, (*thread).info)
}

// Truth leaves archived threads and other entries out; Closed is the status now.
func (s *Server) Truth(portal string) []sim.Thread {
	threads := slices.DeleteFunc(s.Threads(portal), func(t ThreadInfo) bool { return t.Archived })
	return sim.Truth(threads, func(t ThreadInfo) (string, bool, []MessageInfo) { return t.ID, t.Status == StatusClosed, t.Messages },
		func(m MessageInfo) (string, string, time.Time) { return m.ID, m.Direction, m.At })
}

const welcomeText = "Hi! How can we help you today?"

// Seed bulk-creates threads from start (zero: ending now) by sim.Seed: every fourth opens with
// a WELCOME_MESSAGE, every fifth has a ticket, every seventh is e-mail, and every other one the
// agent answered last is CLOSED.
func (s *Server) Seed(portal string, threads, messagesPerThread int, start time.Time) {
	a := s.accounts.Must(portal)
	a.Lock()
	defer a.Unlock()
	mpt := max(messagesPerThread, 0)
	created := sim.Seed(start, s.now(), threads, mpt, time.Millisecond, welcome, func(i int, at time.Time) *thread {
		in := NewThread{Visitor: script.Names[i%len(script.Names)] + " #" + strconv.Itoa(i+1)}
		if i%5 == 4 {
			in.TicketID = strconv.Itoa(5_000_000 + i)
		}
		if i%7 == 6 {
			in.Channel = ChannelEmail
		}
		if welcome(i) {
			in.Welcome = welcomeText
		}
		return s.newThread(a, in, a.stamps.Next(at, s.now))
	}, func(t *thread, i, j int, answer bool, at time.Time) {
		s.appendEntry(a, t, TypeMessage, sim.If(answer, Agent, Visitor), script.Line(i, j, answer), nil, at)
		if answer && j == mpt-1 && i%2 == 0 {
			t.status, t.closedStr = StatusClosed, t.latestStr
		}
	})
	a.byID[0].Append(created...)
	a.byLatest[0].Append(created...)
	a.byLatest[0].Sort()
}

// Fill is Seed ending now.
func (s *Server) Fill(portal string, threads, perThread int) {
	s.Seed(portal, threads, perThread, time.Time{})
}

func welcome(i int) bool { return i%4 == 3 }

// Traffic makes the inbox live (see sim.Run): 20% of events open a thread, 45% are a visitor's
// (reopening closed threads), 30% the agent's answers, 5% closings.
func (s *Server) Traffic(ctx context.Context, portal string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.accounts, ctx, portal, perSecond, rnd, s.trafficStep)
}

// Traffic actions, as trafficStep reports them.
const actNone, actNewThread, actVisitor, actAnswer, actClose = sim.None, sim.NewThread, "visitor_message", "agent_answer", "close"

func (s *Server) trafficStep(a *account, rnd *rand.Rand) string {
	p, name, vtext, atext, pick := rnd.Float64(), sim.Pick(rnd, script.Names), sim.Pick(rnd, script.In), sim.Pick(rnd, script.Out), rnd.Uint64()
	active := &a.byID[0]
	anyThread := func() *thread { return active.At(int(pick % uint64(active.Len()))) }
	write := func(t *thread, from Sender, text string) bool {
		s.appendEntry(a, t, TypeMessage, from, text, nil, time.Time{})
		return true
	}
	return sim.Step(a, p, func() bool { return active.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		t := s.newThread(a, NewThread{Visitor: name}, a.stamps.Next(time.Time{}, s.now))
		a.index(t)
		return write(t, Visitor, vtext)
	}}, sim.Event{Name: actVisitor, Share: 0.45, Do: func() bool {
		return write(anyThread(), Visitor, vtext)
	}}, sim.Event{Name: actAnswer, Share: 0.30, Do: func() bool {
		return a.pending.Len() > 0 && write(a.pending.At(int(pick%uint64(a.pending.Len()))), Agent, atext)
	}}, sim.Event{Name: actClose, Share: 0.05, Do: func() bool {
		t := anyThread()
		if t.status != StatusOpen || t.replyNeeded() || t.sentStr == "" {
			return false
		}
		t.status, t.closedStr = StatusClosed, formatTime(a.stamps.Next(time.Time{}, s.now))
		return true
	}})
}

// script is what the people of seeded and live traffic say.
var script = sim.Script{
	Names: []string{"Jane V.", "Omar K.", "Lena M.", "Paul T.", "Aiko S.", "Ruth B.", "Marco D.", "Nina O.", "Sven A.", "Julia F.", "Kofi E.", "Eva Z."},
	In:    []string{"Any update on my order?", "Hi, I can't log in to my account.", "Can I change the delivery address?", "Do you ship to Norway?", "The invoice shows the wrong VAT number.", "Is the premium plan billed monthly?"},
	Out:   []string{"Hi, checking now.", "Thanks for reaching out, I have fixed it.", "Yes, I have updated it for you.", "We do, delivery takes 3 to 5 days.", "Here is the corrected invoice."},
}
