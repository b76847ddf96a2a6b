package olxsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

var (
	interlocutorTexts = []string{
		"Is it still available?",
		"Can you ship it?",
		"What is the lowest price?",
		"Can I pick it up tomorrow?",
		"Does it have any scratches?",
		"Could you send more photos?",
	}
	ownerTexts = []string{
		"Yes, it is still available.",
		"I can ship it with OLX delivery.",
		"The price is negotiable a little.",
		"Sure, after 6 pm works for me.",
		"It is in very good condition.",
	}
)

// Seed bulk-creates threads in an account, thread after thread, each with
// messagesPerThread messages alternating interlocutor and owner, starting
// with the interlocutor. Every third thread ends with an interlocutor
// message whatever the alternation gives, so that with an even count some
// threads still await a reply.
//
// Messages are one second apart from start, or closer when that is needed
// to keep the last one no later than Config.Now (OLX writes whole seconds,
// so closer messages share a second). A zero start means "so that the
// history ends now". The seeded threads are listed above the threads the
// account had, the last seeded first.
//
// Seed lists the threads once at the end instead of moving them message by
// message: 10,000 threads of 4 messages take a few tens of milliseconds.
// It panics on an unknown account.
func (s *Server) Seed(accountID string, threads, messagesPerThread int, start time.Time) {
	a := s.mustAccount(accountID)
	if threads <= 0 {
		return
	}
	mpt := max(messagesPerThread, 0)
	// stamp rounds every time to whole seconds, so the spread needs no
	// coarser unit.
	start, step := sim.Spread(start, s.now(), int64(threads)*int64(max(mpt, 1)), time.Nanosecond)

	a.mu.Lock()
	defer a.mu.Unlock()
	a.order = slices.Grow(a.order, threads)
	var k int64
	for i := range threads {
		t := s.newThread(a, NewThread{}, s.stamp(a, start.Add(time.Duration(k)*step)))
		t.msgs = make([]*message, 0, mpt)
		for j := range mpt {
			from, text := Interlocutor, interlocutorTexts[(i+j)%len(interlocutorTexts)]
			if sim.SeedAnswer(i, j, mpt) {
				from, text = Owner, ownerTexts[(i+j)%len(ownerTexts)]
			}
			// Cannot fail: from is valid.
			_, _ = s.appendMessage(a, t, from, text, nil, start.Add(time.Duration(k)*step), false)
			k++
		}
		if mpt == 0 {
			k++
		}
		a.touch(t, false)
	}
}

// Traffic makes the account's inbox live until ctx is done, at perSecond
// events per second, like a busy seller: about 20% of events are a new
// interlocutor opening a thread with a first message, 45% an interlocutor
// writing in an existing thread, 35% the owner answering a thread that
// awaits a reply (nothing happens when none does). Messages take their
// times from Config.Now; pacing follows the wall clock. rnd drives every
// choice, so a seeded rnd gives a reproducible sequence of actions; nil
// means a randomly seeded one. Traffic returns nil when ctx is done, and an
// error for an unknown account or a rate that is not positive.
func (s *Server) Traffic(ctx context.Context, accountID string, perSecond float64, rnd *rand.Rand) error {
	a, err := s.account(accountID)
	if err != nil {
		return err
	}
	rnd = sim.Rand(rnd)
	if err := sim.Pace(ctx, perSecond, func() { s.trafficStep(a, rnd) }); err != nil {
		return fmt.Errorf("olxsim: Traffic: %w", err)
	}
	return nil
}

// traffic actions, as trafficStep reports them.
const (
	actNone         = ""
	actNewThread    = "new_thread"
	actInterlocutor = "interlocutor_message"
	actOwnerAnswer  = "owner_answer"
)

// trafficStep performs one Traffic event.
func (s *Server) trafficStep(a *account, rnd *rand.Rand) string {
	p := rnd.Float64()
	itext := interlocutorTexts[rnd.IntN(len(interlocutorTexts))]
	otext := ownerTexts[rnd.IntN(len(ownerTexts))]
	pick := rnd.Uint64()

	a.mu.Lock()
	defer func() {
		a.mu.Unlock()
		if s.onTraffic != nil {
			s.onTraffic()
		}
	}()
	switch {
	case p < 0.20 || len(a.order) == 0:
		t := s.newThread(a, NewThread{}, s.stamp(a, time.Time{}))
		a.touch(t, false)
		_, _ = s.appendMessage(a, t, Interlocutor, itext, nil, time.Time{}, true)
		return actNewThread
	case p < 0.65:
		t := a.order[pick%uint64(len(a.order))]
		_, _ = s.appendMessage(a, t, Interlocutor, itext, nil, time.Time{}, true)
		return actInterlocutor
	default:
		if len(a.pending) == 0 {
			return actNone
		}
		t := a.pending[pick%uint64(len(a.pending))]
		_, _ = s.appendMessage(a, t, Owner, otext, nil, time.Time{}, true)
		return actOwnerAnswer
	}
}
