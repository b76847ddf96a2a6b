package selfcommunity_test

import (
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
)

// owner and randomToken serve the SelfCommunity-specific tests of this
// package.
const owner = pollerstest.SelfCommunityOwner

func randomToken() string { return pollerstest.SelfCommunity.Token() }

func newHarness() *pollerstest.SimHarness[*selfcommunitysim.Server] {
	return pollerstest.NewSimHarness(pollerstest.SelfCommunity)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}

// TestReadingAThreadCostsNoFetch: thread_status flips to "seen" when the
// owner's token reads a thread (threadsync's own fetch included), which is
// not news: the poll after the one that fetched it fetches nothing.
func TestReadingAThreadCostsNoFetch(t *testing.T) {
	t.Parallel()
	h := newHarness()
	a := h.NewAccount(t, "owner", 10)
	sim := h.Sim(a)
	sim.Seed(owner, 5, 2)
	e := pollerstest.NewWorld(t).Engine(pollers.Config{}, a)
	pollerstest.PollOnce(t, e, a)
	th := sim.Threads(owner)[0].ID // answered: ping opens an episode
	sim.AddMessage(owner, th, selfcommunitysim.Other, "ping", time.Time{})
	if ti, _ := sim.Thread(owner, th); ti.Status != "new" {
		t.Fatalf("status %s after a member's message", ti.Status)
	}
	if st := pollerstest.PollOnce(t, e, a); st.Fetches != 1 || st.Events != 2 {
		t.Fatalf("poll after one message: %+v", st)
	}
	if ti, _ := sim.Thread(owner, th); ti.Status != "seen" {
		t.Fatalf("status %s after threadsync read the thread", ti.Status)
	}
	if st := pollerstest.PollOnce(t, e, a); st.Fetches != 0 || st.Events != 0 {
		t.Fatalf("poll after the status flipped: %+v", st)
	}
}
