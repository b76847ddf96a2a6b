package partizap_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/partizap"
	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
)

// walkEnv is one account on a simulator, polled by a real engine.
type walkEnv struct {
	sim    *partizapsim.Server
	acct   pollers.Account
	engine *pollers.Engine
	js     *eventstest.Env
}

// newWalkEnv serves sim through hook, which runs after every request.
func newWalkEnv(t *testing.T, sim *partizapsim.Server, options map[string]string, hook func(r *http.Request)) *walkEnv {
	t.Helper()
	sim.AddVendor(vendorID, secret)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		if hook != nil {
			hook(r)
		}
	}))
	t.Cleanup(srv.Close)
	store, _ := checkpointtest.NewStore(t)
	js := eventstest.Start(t)
	opts := map[string]string{"page_size": "4", "requests_per_second": "1000"}
	for k, v := range options {
		opts[k] = v
	}
	acct := account(srv.URL, opts)
	e, err := pollers.New(pollers.Config{
		Store: store, Publisher: js.Publisher,
		Providers: map[string]pollers.Factory{partizap.Name: partizap.New},
	}, []pollers.Account{acct})
	if err != nil {
		t.Fatal(err)
	}
	return &walkEnv{sim: sim, acct: acct, engine: e, js: js}
}

func (w *walkEnv) poll(t *testing.T) pollers.Stats {
	t.Helper()
	st, err := w.engine.PollOnce(context.Background(), w.acct.Provider, w.acct.ID)
	if err != nil || !st.Completed {
		t.Fatalf("poll: %+v %v", st, err)
	}
	return st
}

// created returns the threads with a ThreadCreated in the stream.
func (w *walkEnv) created(t *testing.T) map[string]bool {
	out := map[string]bool{}
	for _, r := range w.js.ReadAll(t) {
		if r.Envelope.Type == events.ThreadCreated {
			out[r.Envelope.Subject] = true
		}
	}
	return out
}

// TestReadIsNotNews: reading conversations moves their updated_at (and
// their place in the list) but adds no message, so it costs no message
// request and publishes nothing.
func TestReadIsNotNews(t *testing.T) {
	t.Parallel()
	w := newWalkEnv(t, partizapsim.New(partizapsim.Config{}), nil, nil)
	w.sim.Seed(vendorID, 10, 3, time.Time{})
	w.poll(t)
	n := len(w.js.ReadAll(t))
	for _, th := range w.sim.Threads(vendorID)[:5] {
		w.sim.MarkRead(vendorID, th.ID, time.Time{})
	}
	if st := w.poll(t); st.Fetches != 0 || st.Events != 0 || len(w.js.ReadAll(t)) != n {
		t.Fatalf("poll after reads: %+v", st)
	}
}

// TestThreadMovingDuringWalk: with the keyset cursor over the newest-first
// list (what partizap.md infers and the simulator does by default), a
// conversation written to during a walk jumps ahead of the cursor. The walk
// does not see it again; the next one does, and nothing is lost or doubled.
func TestThreadMovingDuringWalk(t *testing.T) {
	t.Parallel()
	sim := partizapsim.New(partizapsim.Config{})
	var lists atomic.Int32
	var moved atomic.Int64
	w := newWalkEnv(t, sim, nil, func(r *http.Request) {
		if r.URL.Path == "/vendor/conversations" && lists.Add(1) == 1 {
			// The oldest conversation, on the last page, gets a message.
			sim.AddMessage(vendorID, moved.Load(), partizapsim.Buyer, "still there?", time.Time{})
		}
	})
	sim.Seed(vendorID, 10, 2, time.Time{})
	oldest := sim.Threads(vendorID)[0]
	moved.Store(oldest.ID)
	st := w.poll(t)
	if st.Threads != 9 || st.Rescans != 0 {
		t.Fatalf("first walk: %+v, want 9 threads listed (the moved one is ahead of the cursor), no rescan", st)
	}
	st = w.poll(t)
	// Created, its 2 seeded messages and the new one, and ReplyNeeded.
	if st.Changed != 1 || st.Events != 5 {
		t.Fatalf("second walk: %+v, want the moved thread's 5 events", st)
	}
	checkStream(t, w)
}

// TestOffsetCursorSkip: with an offset cursor over an oldest-first list, a
// conversation written to during a walk moves to the end and shifts the
// others back, so one is skipped and the moved one is listed twice. The
// engine sees the repeat (Features.OffsetPagination) and walks again, so the
// skipped one is published in the same poll.
func TestOffsetCursorSkip(t *testing.T) {
	t.Parallel()
	for _, offsetPagination := range []bool{true, false} {
		t.Run(strconv.FormatBool(offsetPagination), func(t *testing.T) {
			t.Parallel()
			sim := partizapsim.New(partizapsim.Config{OffsetCursor: true, Order: partizapsim.OldestFirst})
			var lists atomic.Int32
			var first atomic.Int64
			w := newWalkEnv(t, sim, map[string]string{"offset_pagination": strconv.FormatBool(offsetPagination)}, func(r *http.Request) {
				if r.URL.Path == "/vendor/conversations" && lists.Add(1) == 1 {
					sim.AddMessage(vendorID, first.Load(), partizapsim.Vendor, "answered", time.Time{})
				}
			})
			sim.Seed(vendorID, 6, 1, time.Time{})
			truth := sim.Threads(vendorID)
			first.Store(truth[0].ID)
			skipped := strconv.FormatInt(truth[4].ID, 10)
			st := w.poll(t)
			created := w.created(t)
			if offsetPagination {
				if st.Rescans != 1 || !created[skipped] || len(created) != 6 {
					t.Fatalf("walk: %+v, created %v; want a rescan that finds thread %s", st, created, skipped)
				}
			} else {
				if st.Rescans != 0 || created[skipped] || len(created) != 5 {
					t.Fatalf("walk: %+v, created %v; want thread %s skipped without drift detection", st, created, skipped)
				}
				w.poll(t)
			}
			checkStream(t, w)
		})
	}
}

// checkStream checks the stream holds every thread and message of the
// truth once, and a ReplyNeeded exactly for the threads awaiting a reply.
func checkStream(t *testing.T, w *walkEnv) {
	t.Helper()
	got := w.js.ReadAll(t)
	ids := map[string]bool{}
	msgs := map[string]bool{}
	replies := map[string]bool{}
	for _, r := range got {
		if ids[r.Envelope.ID] {
			t.Fatalf("event %s twice", r.Envelope.ID)
		}
		ids[r.Envelope.ID] = true
		switch r.Envelope.Type {
		case events.MessageReceived:
			d, err := events.DecodeData(r.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			msgs[d.(*events.MessageReceivedData).Message.ID] = true
		case events.ReplyNeeded:
			replies[r.Envelope.Subject] = true
		}
	}
	for _, th := range w.sim.Threads(vendorID) {
		for _, m := range th.Messages {
			if !msgs[strconv.FormatInt(m.ID, 10)] {
				t.Fatalf("message %d of thread %d not published", m.ID, th.ID)
			}
		}
		if pending := th.ReplyNeededSince != nil; pending != replies[strconv.FormatInt(th.ID, 10)] {
			t.Fatalf("thread %d: pending %v, ReplyNeeded published %v", th.ID, pending, !pending)
		}
	}
}
