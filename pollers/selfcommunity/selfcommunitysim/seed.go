package selfcommunitysim

import (
	"context"
	"fmt"
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

// Seed bulk-creates threads in the account's inbox, each with a new member
// and messagesPerThread messages alternating member and account, starting
// with the member. Every third thread ends with a member message whatever
// the alternation gives, so that with an even count some threads still await
// a reply.
//
// Messages are one second apart and end just before Config.Now, so that the
// seeded history stays behind the clock and later messages sort after it.
// Seed builds the inbox in bulk and sorts it once: 10,000 threads of 4
// messages take a few tens of milliseconds. It panics on an unknown account.
func (s *Server) Seed(account string, threads, messagesPerThread int) {
	if threads <= 0 {
		return
	}
	mpt := max(messagesPerThread, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAccount(account)
	start, step := sim.Spread(time.Time{}, s.now(), int64(threads*mpt), time.Microsecond)
	k := 0
	for i := range threads {
		realName := memberNames[(int(s.userSeq)+i)%len(memberNames)]
		name := strings.ToLower(strings.ReplaceAll(strings.Fields(realName)[0], "é", "e")) + "_" + strconv.FormatInt(s.userSeq+1, 10)
		if s.byName[name] != nil {
			name = s.freshName()
		}
		at := s.stampLocked(start.Add(time.Duration(k) * step))
		other := s.newUser(name, realName, at)
		t := s.pairThread(other, a.user, at)
		for j := range mpt {
			at := s.stampLocked(start.Add(time.Duration(k) * step))
			k++
			side, body := 0, memberBodies[(i+j)%len(memberBodies)]
			if sim.SeedAnswer(i, j, mpt) {
				side, body = 1, ownerBodies[(i+j)%len(ownerBodies)]
			}
			s.appendMessage(t, side, body, at, false)
		}
	}
	sortIndex(a.index)
}

// Traffic makes the account's inbox live until ctx is done, at perSecond
// events per second: about 20% of events are a new member opening a thread,
// 45% a member writing in an existing thread, 35% the account answering a
// thread that awaits its reply (nothing happens when none does). Messages
// take their times from Config.Now; pacing follows the wall clock. rnd
// drives every choice, so a seeded rnd gives a reproducible sequence of
// actions; nil means a randomly seeded one. Traffic returns nil when ctx is
// done, and an error for an unknown account or a rate that is not positive.
func (s *Server) Traffic(ctx context.Context, account string, perSecond float64, rnd *rand.Rand) error {
	s.mu.RLock()
	a := s.accounts[account]
	s.mu.RUnlock()
	if a == nil {
		return fmt.Errorf("%w %q", errUnknownAccount, account)
	}
	rnd = sim.Rand(rnd)
	if err := sim.Pace(ctx, perSecond, func() { s.trafficStep(a, rnd) }); err != nil {
		return fmt.Errorf("selfcommunitysim: Traffic: %w", err)
	}
	return nil
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
	p := rnd.Float64()
	realName := memberNames[rnd.IntN(len(memberNames))]
	mbody := memberBodies[rnd.IntN(len(memberBodies))]
	obody := ownerBodies[rnd.IntN(len(ownerBodies))]

	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		if s.onTraffic != nil {
			s.onTraffic()
		}
	}()
	switch {
	case p < 0.20 || len(a.index) == 0:
		at := s.stampLocked(time.Time{})
		other := s.newUser(s.freshName(), realName, at)
		t := s.pairThread(other, a.user, at)
		s.appendMessage(t, 0, mbody, at, true)
		return actNewThread
	case p < 0.65:
		t := a.index[rnd.IntN(len(a.index))]
		s.appendMessage(t, 1-t.side(a.user), mbody, s.stampLocked(time.Time{}), true)
		return actMember
	default:
		if len(a.pending) == 0 {
			return actNone
		}
		t := a.pending[rnd.IntN(len(a.pending))]
		s.appendMessage(t, t.side(a.user), obody, s.stampLocked(time.Time{}), true)
		return actOwnerAnswer
	}
}
