package olx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/olx"
	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// hook says when a walk fixture changes the list: right before or right
// after it serves list request number list (from 1; 0 for never).
type hook struct {
	list  int32
	after bool
}

// walkFixture is an account on a simulator whose list moves while the
// engine walks it.
type walkFixture struct {
	sim *olxsim.Server
	js  *eventstest.Env
	e   *pollers.Engine
	a   pollers.Account
}

func newWalkFixture(t *testing.T, threads int, at hook, change func(sim *olxsim.Server, listed []string)) *walkFixture {
	t.Helper()
	sim := olxsim.New(olxsim.Config{Location: warsaw})
	tok := randomToken()
	sim.AddAccount(simAccount, tok)
	sim.Seed(simAccount, threads, 2, time.Time{})
	before := listed(sim)
	var lists atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int32(-1)
		if r.URL.Path == "/api/partner/threads" {
			n = lists.Add(1)
		}
		if n == at.list && !at.after {
			change(sim, before)
		}
		sim.ServeHTTP(w, r)
		if n == at.list && at.after {
			change(sim, before)
		}
	}))
	t.Cleanup(srv.Close)

	store, _ := checkpointtest.NewStore(t)
	js := eventstest.Start(t)
	a := pollers.Account{
		Provider: olx.Name, ID: "moving", BaseURL: srv.URL, Token: tok, InitialSync: pollers.SyncFull,
		Options: map[string]string{"timezone": zone, "page_size": "4", "requests_per_second": "1000"},
	}
	e, err := pollers.New(pollers.Config{
		Store: store, Publisher: js.Publisher,
		Providers: map[string]pollers.Factory{olx.Name: olx.New},
	}, []pollers.Account{a})
	if err != nil {
		t.Fatal(err)
	}
	return &walkFixture{sim: sim, js: js, e: e, a: a}
}

func (f *walkFixture) poll(t *testing.T) pollers.Stats {
	t.Helper()
	st, err := f.e.PollOnce(context.Background(), f.a.Provider, f.a.ID)
	if err != nil || !st.Completed {
		t.Fatalf("poll: %+v, %v", st, err)
	}
	return st
}

// check verifies that the stream holds every thread of the ground truth
// with all its messages, each event once, and a ReplyNeeded for every
// thread awaiting a reply.
func (f *walkFixture) check(t *testing.T, sent int) {
	t.Helper()
	got := f.js.ReadAll(t)
	if sent != len(got) {
		t.Fatalf("the walk sent %d events for %d distinct ones", sent, len(got))
	}
	created := map[string]bool{}
	msgs := map[string]bool{}
	replies := map[string]int{}
	for _, r := range got {
		switch r.Envelope.Type {
		case events.ThreadCreated:
			created[r.Envelope.Subject] = true
		case events.MessageReceived:
			d, err := events.DecodeData(r.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			msgs[d.(*events.MessageReceivedData).Message.ID] = true
		case events.ReplyNeeded:
			replies[r.Envelope.Subject]++
		}
	}
	for _, th := range f.sim.Threads(simAccount) {
		if !created[th.ID] {
			t.Errorf("thread %s missed", th.ID)
		}
		for _, m := range th.Messages {
			if !msgs[m.ID] {
				t.Errorf("thread %s: message %s missed", th.ID, m.ID)
			}
		}
		pt := pollerstest.Thread{ID: th.ID}
		for _, m := range th.Messages {
			pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction)})
		}
		// One episode per thread at most here; one that closed since may
		// have been announced.
		if n := replies[th.ID]; n > 1 || (pollerstest.Pending(pt) && n != 1) {
			t.Errorf("thread %s: %d ReplyNeeded, pending %v", th.ID, n, pollerstest.Pending(pt))
		}
	}
}

// TestThreadMovingDuringWalk: threads move while the engine pages through
// the list, newest activity first, four at a time. The list changes after
// the first page and its messages are read, before the second page is: a
// move shifts the threads before the cursor, and the walk must notice, walk
// again, and in the end have published every thread and message once.
func TestThreadMovingDuringWalk(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		change  func(sim *olxsim.Server, listed []string)
		rescans int
	}{
		{
			// The thread at the bottom gets a message and jumps to the top,
			// behind the walk: without a second walk it would be missed.
			name: "thread from below the cursor to the top",
			change: func(sim *olxsim.Server, listed []string) {
				sim.AddMessage(simAccount, listed[len(listed)-1], olxsim.Interlocutor, "still there?", time.Time{})
			},
			rescans: 1,
		},
		{
			name: "new thread",
			change: func(sim *olxsim.Server, _ []string) {
				th := sim.AddThread(simAccount, olxsim.NewThread{})
				sim.AddMessage(simAccount, th, olxsim.Interlocutor, "hello", time.Time{})
			},
			rescans: 1,
		},
		{
			// A thread already read disappears: every later thread moves up
			// by one, and the one at the cursor would be skipped without
			// anyone seeing a thread twice. The check thread tells.
			name: "thread above the cursor deleted",
			change: func(sim *olxsim.Server, listed []string) {
				sim.DeleteThread(simAccount, listed[1])
			},
			rescans: 1,
		},
		{
			// A thread already read moves to the top: nothing past the
			// cursor shifts, so there is no reason to walk again; its new
			// message is the next poll's.
			name: "thread above the cursor to the top",
			change: func(sim *olxsim.Server, listed []string) {
				sim.AddMessage(simAccount, listed[2], olxsim.Owner, "sure", time.Time{})
			},
			rescans: 0,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newWalkFixture(t, 11, hook{list: 2}, c.change)
			st := f.poll(t)
			if st.Rescans != c.rescans {
				t.Fatalf("walk made %d rescans, want %d: %+v", st.Rescans, c.rescans, st)
			}
			sent := st.Events
			if c.rescans == 0 {
				st = f.poll(t)
				// The new message, and the ReplyResolved of the episode it
				// answers when the thread was waiting.
				if st.Events < 1 || st.Events > 2 || st.Fetches != 1 || st.Rescans != 0 {
					t.Fatalf("next poll: %+v, want the one new message", st)
				}
				sent += st.Events
			}
			f.check(t, sent)
			if st := f.poll(t); st.Events != 0 || st.Fetches != 0 || st.Rescans != 0 {
				t.Fatalf("quiet poll: %+v", st)
			}
		})
	}
}

// TestThreadDeletedBeforeItsMessages: a thread listed on the first page is
// gone when its messages are asked for (404). The poll goes on; the thread
// is announced without messages, and the poll after that does not ask for
// it again once OLX stops listing it.
func TestThreadDeletedBeforeItsMessages(t *testing.T) {
	t.Parallel()
	var gone string
	f := newWalkFixture(t, 6, hook{list: 1, after: true}, func(sim *olxsim.Server, listed []string) {
		gone = listed[1]
		sim.DeleteThread(simAccount, gone)
	})
	st := f.poll(t)
	// The deletion also moved the threads after it up: one walk again.
	if st.Rescans != 1 {
		t.Fatalf("poll %+v, want one rescan", st)
	}
	f.check(t, st.Events)
	if st := f.poll(t); st.Events != 0 || st.Fetches != 0 {
		t.Fatalf("quiet poll: %+v", st)
	}
}

// TestThreadListedButUnreadable: OLX lists a thread whose messages answer
// 404. The account does not stall, and the thread's messages are published
// once they can be read.
func TestThreadListedButUnreadable(t *testing.T) {
	t.Parallel()
	f := newWalkFixture(t, 3, hook{}, nil)
	f.sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointMessages, Status: http.StatusNotFound, Times: 3})
	st := f.poll(t) // the first three threads' messages: 404
	if st.Events != 3 || st.Fetches != 3 {
		t.Fatalf("first poll %+v, want three threads created without messages", st)
	}
	st = f.poll(t) // asked again, readable now
	if st.Fetches != 3 || st.Events == 0 {
		t.Fatalf("second poll %+v, want the messages of the three threads", st)
	}
	f.check(t, 3+st.Events)
	if st := f.poll(t); st.Fetches != 0 {
		t.Fatalf("third poll %+v, want no fetch", st)
	}
}
