package hubspotsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
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

// Seed bulk-creates threads in an account, thread after thread, each with
// messagesPerThread messages alternating visitor and agent, starting with
// the visitor. Every third thread ends with a visitor message whatever the
// alternation gives, so that with an even count some threads still await a
// reply. Some variety on top, none of it a conversation message: every
// fourth thread opens with a WELCOME_MESSAGE, every fifth has a ticket,
// every seventh came by e-mail, and every other thread where the agent had
// the last word is CLOSED.
//
// Entries are one second apart from start, or closer when that is needed to
// keep the last one no later than Config.Now, so that seeded history stays
// behind the clock and later messages sort after it. A zero start means
// "so that the history ends now".
//
// Seed sorts the index once at the end instead of moving threads message
// by message: 10,000 threads of 4 messages take a few tens of milliseconds.
// It panics on an unknown account.
func (s *Server) Seed(portal string, threads, messagesPerThread int, start time.Time) {
	a := s.mustAccount(portal)
	if threads <= 0 {
		return
	}
	mpt := max(messagesPerThread, 0)
	steps := int64(0)
	for i := range threads {
		steps += int64(max(mpt+welcomes(i), 1))
	}
	start, step := sim.Spread(start, s.now(), steps, time.Millisecond)

	a.mu.Lock()
	defer a.mu.Unlock()
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
	a.byID[0] = append(a.byID[0], created...)
	a.byLatest[0] = append(a.byLatest[0], created...)
	for _, t := range created {
		t.indexed = true
	}
	sortLatest(a.byLatest[0])
}

// welcomes is how many welcome entries Seed gives thread i.
func welcomes(i int) int {
	if i%4 == 3 {
		return 1
	}
	return 0
}

func sortLatest(idx []*thread) {
	// Usually already sorted (seeded times increase), and then this is one
	// linear pass.
	for i := 1; i < len(idx); i++ {
		if cmpLatest(idx[i-1], idx[i].latestNs, idx[i].id) > 0 {
			slices.SortFunc(idx, func(x, y *thread) int { return cmpLatest(x, y.latestNs, y.id) })
			return
		}
	}
}

// Traffic makes the account's inbox live until ctx is done, at perSecond
// events per second, like a support desk: about 20% of events are a visitor
// opening a thread with a first message, 45% a visitor writing in an
// existing thread (which reopens it when closed), 30% the agent answering a
// thread that awaits a reply, 5% the agent closing an answered thread
// (nothing happens when there is none to answer or close). Messages take
// their times from Config.Now; pacing follows the wall clock. rnd drives
// every choice, so a seeded rnd gives a reproducible sequence of actions;
// nil means a randomly seeded one. Traffic returns nil when ctx is done, and
// an error for an unknown account or a rate that is not positive.
func (s *Server) Traffic(ctx context.Context, portal string, perSecond float64, rnd *rand.Rand) error {
	a, err := s.account(portal)
	if err != nil {
		return err
	}
	rnd = sim.Rand(rnd)
	if err := sim.Pace(ctx, perSecond, func() { s.trafficStep(a, rnd) }); err != nil {
		return fmt.Errorf("hubspotsim: Traffic: %w", err)
	}
	return nil
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
	p := rnd.Float64()
	name := visitorNames[rnd.IntN(len(visitorNames))]
	vtext := visitorTexts[rnd.IntN(len(visitorTexts))]
	atext := agentTexts[rnd.IntN(len(agentTexts))]
	pick := rnd.Uint64()

	a.mu.Lock()
	defer func() {
		a.mu.Unlock()
		if s.onTraffic != nil {
			s.onTraffic()
		}
	}()
	active := a.byID[0]
	switch {
	case p < 0.20 || len(active) == 0:
		t := s.newThread(a, NewThread{Visitor: name}, a.stamp(time.Time{}, s.now))
		a.index(t)
		s.appendEntry(a, t, TypeMessage, Visitor, vtext, nil, time.Time{})
		return actNewThread
	case p < 0.65:
		s.appendEntry(a, active[pick%uint64(len(active))], TypeMessage, Visitor, vtext, nil, time.Time{})
		return actVisitor
	case p < 0.95:
		if len(a.pending) == 0 {
			return actNone
		}
		s.appendEntry(a, a.pending[pick%uint64(len(a.pending))], TypeMessage, Agent, atext, nil, time.Time{})
		return actAnswer
	default:
		t := active[pick%uint64(len(active))]
		if t.status != StatusOpen || t.replyNeeded() || t.sentStr == "" {
			return actNone
		}
		t.status, t.closedStr = StatusClosed, formatTime(a.stamp(time.Time{}, s.now))
		return actClose
	}
}
