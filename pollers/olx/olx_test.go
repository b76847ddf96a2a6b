package olx_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// simAccount, zone and randomToken serve the OLX-specific tests of this
// package.
const (
	simAccount = pollerstest.OLXUser
	zone       = pollerstest.OLXZone
)

var warsaw = mustZone(zone)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func randomToken() string { return pollerstest.OLX.Token() }

func newHarness() *pollerstest.SimHarness[*olxsim.Server] {
	return pollerstest.NewSimHarness(pollerstest.OLX)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}

// engineOf is an account of threads × perThread messages on the harness's
// simulator, polled by an engine of a world of its own.
func engineOf(t *testing.T, threads, perThread int) (*olxsim.Server, func() pollers.Stats, *pollerstest.World) {
	h := newHarness()
	a := h.NewAccount(t, "olx", 4)
	h.Seed(t, a, threads, perThread)
	w := pollerstest.NewWorld(t)
	e := w.Engine(pollers.Config{}, a)
	return h.Sim(a), func() pollers.Stats { t.Helper(); return pollerstest.PollOnce(t, e, a) }, w
}

// TestThreadListedButUnreadable: OLX lists a thread whose messages answer
// 404. The account does not stall, and the thread's messages are published
// once they can be read.
func TestThreadListedButUnreadable(t *testing.T) {
	t.Parallel()
	sim, poll, w := engineOf(t, 3, 2)
	sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointMessages, Status: http.StatusNotFound, Times: 3})
	if st := poll(); st.Events != 3 || st.Fetches != 3 {
		t.Fatalf("first poll %+v, want three threads created without messages", st)
	}
	if st := poll(); st.Fetches != 3 || st.Events == 0 {
		t.Fatalf("second poll %+v, want the messages of the three threads", st)
	}
	if got, want := w.JS.Count(t), pollerstest.Expect(sim.Truth(simAccount)).Events(); got != uint64(want) {
		t.Fatalf("stream holds %d events, a full sync %d", got, want)
	}
	if st := poll(); st.Fetches != 0 || st.Events != 0 {
		t.Fatalf("third poll %+v, want no fetch", st)
	}
}

// TestThreadCreatedAtItsFirstMessage: a list item without created_at is
// still a thread, which began with its first message.
func TestThreadCreatedAtItsFirstMessage(t *testing.T) {
	t.Parallel()
	sim, poll, w := engineOf(t, 1, 2)
	th := sim.Threads(simAccount)[0]
	sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointThreads, Status: http.StatusOK,
		Body: `{"data": [{"id": ` + th.ID + `, "total_count": 2, "unread_count": 0}]}`})
	poll()
	got := w.JS.ReadAll(t)
	d, err := events.DecodeData(got[0].Envelope)
	if err != nil {
		t.Fatal(err)
	}
	if c := d.(*events.ThreadCreatedData).Thread; !c.CreatedAt.Equal(th.Messages[0].At) {
		t.Fatalf("thread created at %v, its first message at %v", c.CreatedAt, th.Messages[0].At)
	}
}
