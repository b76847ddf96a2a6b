package selfcommunitysim

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

var (
	memberNames = []string{
		"Maria Rossi", "Luca Bianchi", "Giulia Romano", "Marco Ricci", "Sara Colombo",
		"Paolo Greco", "Anna Bruno", "Davide Gallo", "Elena Conti", "Jonas Weber",
		"Chloé Martin", "Tomás García",
	}
	memberBodies = []string{
		"Hi! Is the meetup still on this Saturday?",
		"Could you share the slides from yesterday's session?",
		"I can't find the event link, can you send it again?",
		"Thanks for the help with my profile!",
		"Do you know when the next webinar is?",
		"Is there a discount code for community members?",
	}
	ownerBodies = []string{
		"Yes, see you there at 10am.",
		"Sure, here is the link to the slides.",
		"I've just sent it to you again.",
		"You're welcome, happy to help!",
		"Next Thursday, the invite goes out tomorrow.",
	}
)

// Seed bulk-creates threads in the account's inbox, each with a new member,
// laid out as sim.Seed lays out history ending now: member and account
// alternate, the member first, and every third thread ends with the
// member. The inbox is sorted once at the end: 10,000 threads of 4
// messages take a few tens of milliseconds. It panics on an unknown
// account.
func (s *Server) Seed(account string, threads, messagesPerThread int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(account)
	var t *thread
	sim.Seed(time.Time{}, s.now(), threads, max(messagesPerThread, 1), time.Microsecond, func(i int, at time.Time) {
		realName := memberNames[(int(s.userSeq)+i)%len(memberNames)]
		name := strings.ToLower(strings.ReplaceAll(strings.Fields(realName)[0], "é", "e")) + "_" + strconv.FormatInt(s.userSeq+1, 10)
		if s.byName[name] != nil {
			name = s.freshName()
		}
		at = s.stampLocked(at)
		t = s.pairThread(s.newUser(name, realName, at), a.user, at)
	}, func(i, j int, answer bool, at time.Time) {
		side, body := 0, memberBodies[(i+j)%len(memberBodies)]
		if answer {
			side, body = 1, ownerBodies[(i+j)%len(ownerBodies)]
		}
		s.appendMessage(t, side, body, s.stampLocked(at), false)
	})
	a.index.Sort()
}

// Traffic makes the account's inbox live (see Kit.Live): about 20% of
// events are a new member opening a thread, 45% a member writing in an
// existing thread, 35% the account answering a thread that awaits its
// reply (nothing happens when none does). Messages take their times from
// Config.Now.
func (s *Server) Traffic(ctx context.Context, account string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.accounts, ctx, account, perSecond, rnd, s.trafficStep)
}

// traffic actions, as trafficStep reports them.
const (
	actNone        = ""
	actNewThread   = "new_thread"
	actMember      = "member_message"
	actOwnerAnswer = "owner_answer"
)

// trafficStep performs one Traffic event.
func (s *Server) trafficStep(a *account, rnd *rand.Rand) string {
	p, realName, mbody, obody := rnd.Float64(), sim.Pick(rnd, memberNames), sim.Pick(rnd, memberBodies), sim.Pick(rnd, ownerBodies)
	write := func(t *thread, side int, text string) bool {
		s.appendMessage(t, side, text, s.stampLocked(time.Time{}), true)
		return true
	}
	return sim.Step(&s.mu, p, func() bool { return a.index.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		at := s.stampLocked(time.Time{})
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
