package olxsim

import (
	"context"
	"math/rand/v2"
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

// Seed bulk-creates threads in an account, laid out from start (zero:
// ending now) as sim.Seed lays out history: interlocutor and owner
// alternate, the interlocutor first, and every third thread ends with the
// interlocutor. OLX writes whole seconds, so messages closer than a second
// share one. The seeded threads are listed above the threads the account
// had, the last seeded first, and listed once at the end: 10,000 threads
// of 4 messages take a few tens of milliseconds. It panics on an unknown
// account.
func (s *Server) Seed(accountID string, threads, messagesPerThread int, start time.Time) {
	a := s.accounts.Must(accountID)
	a.Lock()
	defer a.Unlock()
	var created []*thread
	// stamp rounds every time to whole seconds, so the spread needs no
	// coarser unit.
	sim.Seed(start, s.now(), threads, messagesPerThread, time.Nanosecond, func(i int, at time.Time) {
		created = append(created, s.newThread(a, NewThread{}, s.stamp(a, at)))
	}, func(i, j int, answer bool, at time.Time) {
		from, text := Interlocutor, interlocutorTexts[(i+j)%len(interlocutorTexts)]
		if answer {
			from, text = Owner, ownerTexts[(i+j)%len(ownerTexts)]
		}
		// Cannot fail: from is valid.
		_, _ = s.appendMessage(a, created[i], from, text, nil, at, false)
	})
	for _, t := range created {
		a.touch(t, false)
	}
}

// Traffic makes the account's inbox live (see Kit.Live) like a busy
// seller: about 20% of events are a new interlocutor opening a thread with
// a first message, 45% an interlocutor writing in an existing thread, 35%
// the owner answering a thread that awaits a reply (nothing happens when
// none does). Messages take their times from Config.Now.
func (s *Server) Traffic(ctx context.Context, accountID string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.accounts, ctx, accountID, perSecond, rnd, s.trafficStep)
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
	p, itext, otext, pick := rnd.Float64(), sim.Pick(rnd, interlocutorTexts), sim.Pick(rnd, ownerTexts), rnd.Uint64()
	write := func(t *thread, from SenderType, text string) bool {
		_, _ = s.appendMessage(a, t, from, text, nil, time.Time{}, true)
		return true
	}
	return sim.Step(a, p, func() bool { return a.order.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		t := s.newThread(a, NewThread{}, s.stamp(a, time.Time{}))
		a.touch(t, false)
		return write(t, Interlocutor, itext)
	}}, sim.Event{Name: actInterlocutor, Share: 0.45, Do: func() bool {
		return write(a.order.At(int(pick%uint64(a.order.Len()))), Interlocutor, itext)
	}}, sim.Event{Name: actOwnerAnswer, Share: 0.35, Do: func() bool {
		return a.pending.Len() > 0 && write(a.pending.At(int(pick%uint64(a.pending.Len()))), Owner, otext)
	}})
}
