package hubspotsim

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

var (
	visitorNames = []string{
		"Jane V.", "Omar K.", "Lena M.", "Paul T.", "Aiko S.", "Ruth B.",
		"Marco D.", "Nina O.", "Sven A.", "Julia F.", "Kofi E.", "Eva Z.",
	}
	visitorTexts = []string{
		"Any update on my order?",
		"Hi, I can't log in to my account.",
		"Can I change the delivery address?",
		"Do you ship to Norway?",
		"The invoice shows the wrong VAT number.",
		"Is the premium plan billed monthly?",
	}
	agentTexts = []string{
		"Hi, checking now.",
		"Thanks for reaching out, I have fixed it.",
		"Yes, I have updated it for you.",
		"We do, delivery takes 3 to 5 days.",
		"Here is the corrected invoice.",
	}
	welcomeText = "Hi! How can we help you today?"
)

// Seed bulk-creates threads in an account, laid out from start (zero:
// ending now) as sim.Seed lays out history: visitor and agent alternate,
// the visitor first, and every third thread ends with the visitor. Some
// variety on top, none of it a conversation message: every fourth thread
// opens with a WELCOME_MESSAGE (an entry of its own), every fifth has a
// ticket, every seventh came by e-mail, and every other thread where the
// agent had the last word is CLOSED. The index is sorted once at the end:
// 10,000 threads of 4 messages take a few tens of milliseconds. It panics
// on an unknown account.
func (s *Server) Seed(portal string, threads, messagesPerThread int, start time.Time) {
	a := s.accounts.Must(portal)
	if threads <= 0 {
		return
	}
	mpt := max(messagesPerThread, 0)
	steps := int64(0)
	for i := range threads {
		steps += int64(max(mpt+welcomes(i), 1))
	}
	start, step := sim.Spread(start, s.now(), steps, time.Millisecond)

	a.Lock()
	defer a.Unlock()
	created := make([]*thread, 0, threads)
	var k int64
	at := func() time.Time { k++; return start.Add(time.Duration(k-1) * step) }
	for i := range threads {
		in := NewThread{Visitor: visitorNames[i%len(visitorNames)] + " #" + strconv.Itoa(i+1)}
		if i%5 == 4 {
			in.TicketID = strconv.Itoa(5_000_000 + i)
		}
		if i%7 == 6 {
			in.Channel = ChannelEmail
		}
		first := at()
		if welcomes(i) > 0 {
			in.Welcome = welcomeText
		}
		t := s.newThread(a, in, a.stamp(first, s.now))
		for j := range mpt {
			when := first
			if j > 0 || welcomes(i) > 0 {
				when = at()
			}
			from, text := Visitor, visitorTexts[(i+j)%len(visitorTexts)]
			if sim.SeedAnswer(i, j, mpt) {
				from, text = Agent, agentTexts[(i+j)%len(agentTexts)]
			}
			s.appendEntry(a, t, TypeMessage, from, text, nil, when)
		}
		if mpt > 0 && t.msgs[len(t.msgs)-1].from == Agent && i%2 == 0 {
			t.status, t.closedStr = StatusClosed, t.latestStr
		}
		created = append(created, t)
	}
	// Seeded ids are the newest, so they go at the end of the id index.
	a.byID[0].Append(created...)
	a.byLatest[0].Append(created...)
	for _, t := range created {
		t.indexed = true
	}
	a.byLatest[0].Sort()
}

// welcomes is how many welcome entries Seed gives thread i.
func welcomes(i int) int {
	if i%4 == 3 {
		return 1
	}
	return 0
}

// Traffic makes the account's inbox live (see Kit.Live) like a support
// desk: about 20% of events are a visitor opening a thread with a first
// message, 45% a visitor writing in an existing thread (which reopens it
// when closed), 30% the agent answering a thread that awaits a reply, 5%
// the agent closing an answered thread (nothing happens when there is none
// to answer or close). Messages take their times from Config.Now.
func (s *Server) Traffic(ctx context.Context, portal string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.accounts, ctx, portal, perSecond, rnd, s.trafficStep)
}

// Traffic actions, as trafficStep reports them.
const (
	actNone      = ""
	actNewThread = "new_thread"
	actVisitor   = "visitor_message"
	actAnswer    = "agent_answer"
	actClose     = "close"
)

// trafficStep performs one Traffic event.
func (s *Server) trafficStep(a *account, rnd *rand.Rand) string {
	p, name, vtext, atext, pick := rnd.Float64(), sim.Pick(rnd, visitorNames), sim.Pick(rnd, visitorTexts), sim.Pick(rnd, agentTexts), rnd.Uint64()
	active := &a.byID[0]
	anyThread := func() *thread { return active.At(int(pick % uint64(active.Len()))) }
	write := func(t *thread, from Sender, text string) bool {
		s.appendEntry(a, t, TypeMessage, from, text, nil, time.Time{})
		return true
	}
	return sim.Step(a, p, func() bool { return active.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		t := s.newThread(a, NewThread{Visitor: name}, a.stamp(time.Time{}, s.now))
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
		t.status, t.closedStr = StatusClosed, formatTime(a.stamp(time.Time{}, s.now))
		return true
	}})
}
