package selfcommunity_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/selfcommunity"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
)

// world is one account polled through the real engine, Redis and JetStream.
type world struct {
	t     *testing.T
	sim   *selfcommunitysim.Server
	store *checkpoint.Store
	js    *eventstest.Env
	acct  pollers.Account
	e     *pollers.Engine
}

// newWorld serves sim through wrap (nil: as is) for an account listing
// pageSize threads per page.
func newWorld(t *testing.T, sim *selfcommunitysim.Server, wrap func(http.Handler) http.Handler, pageSize string) *world {
	t.Helper()
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	token := randomToken()
	uid := sim.AddAccount(owner, token)
	store, _ := checkpointtest.NewStore(t)
	w := &world{t: t, sim: sim, store: store, js: eventstest.Start(t)}
	w.acct = pollers.Account{
		Provider: selfcommunity.Name, ID: "owner", BaseURL: srv.URL, Token: token, InitialSync: pollers.SyncFull,
		Options: map[string]string{"user_id": uid, "page_size": pageSize, "requests_per_second": "1000"},
	}
	var err error
	w.e, err = pollers.New(pollers.Config{
		Store: store, Publisher: w.js.Publisher, MinBackoff: 10 * time.Millisecond,
		Providers: map[string]pollers.Factory{selfcommunity.Name: selfcommunity.New},
	}, []pollers.Account{w.acct})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) poll() pollers.Stats {
	w.t.Helper()
	st, err := w.e.PollOnce(context.Background(), w.acct.Provider, w.acct.ID)
	if err != nil || !st.Completed {
		w.t.Fatalf("poll: %+v %v", st, err)
	}
	return st
}

// expectExactly checks the stream holds one event per fact of the truth.
func (w *world) expectExactly() []eventstest.Received {
	w.t.Helper()
	got := w.js.ReadAll(w.t)
	var want int
	for _, th := range w.sim.Threads(owner) {
		want += 1 + len(th.Messages)
		if th.Messages[len(th.Messages)-1].From == selfcommunitysim.Other {
			want++
		}
	}
	if len(got) != want {
		w.t.Fatalf("stream holds %d events, want %d", len(got), want)
	}
	return got
}

// TestThreadMovingDuringWalk: a thread further down the newest-first list
// gets a message while the walk is under way. It jumps to the front, every
// thread between shifts down one place, and the next offset page repeats
// one: the engine takes the repeat as drift and walks again, which finds the
// moved thread. Every event is published once.
func TestThreadMovingDuringWalk(t *testing.T) {
	t.Parallel()
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	var lists atomic.Int32
	var oldest string
	w := newWorld(t, sim, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(rw, r)
			if r.URL.Path == "/api/v2/pm/" && !r.URL.Query().Has("thread") && lists.Add(1) == 1 {
				sim.AddMessage(owner, oldest, selfcommunitysim.Other, "still there?", time.Time{})
			}
		})
	}, "4")
	sim.Seed(owner, 6, 2)
	oldest = sim.Threads(owner)[0].ID // last in the list: on the second page

	st := w.poll()
	if st.Rescans != 1 || st.Threads != 4+2+4+2 {
		t.Fatalf("walk %+v: want one rescan of 6 threads after a walk that saw 6 listings", st)
	}
	got := w.expectExactly()
	if st.Events != len(got) {
		t.Fatalf("walks sent %d events for %d distinct ones", st.Events, len(got))
	}
}

// TestThreadHiddenDuringWalk: a thread hidden on a page already read makes
// every later thread move up one place, so the next offset page skips one
// without any repeat to tell; the count that went down does.
func TestThreadHiddenDuringWalk(t *testing.T) {
	t.Parallel()
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	var lists atomic.Int32
	var first string
	w := newWorld(t, sim, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(rw, r)
			if r.URL.Path == "/api/v2/pm/" && !r.URL.Query().Has("thread") && lists.Add(1) == 1 {
				sim.HideThread(owner, first)
			}
		})
	}, "3")
	sim.Seed(owner, 7, 1)
	truth := sim.Threads(owner)
	first = truth[len(truth)-1].ID // the newest: first on the first page

	st := w.poll()
	if st.Rescans != 1 {
		t.Fatalf("walk %+v: want a rescan", st)
	}
	seen := map[string]bool{}
	for _, r := range w.js.ReadAll(t) {
		seen[r.Envelope.Subject] = true
	}
	for _, th := range truth {
		if !seen[th.ID] {
			t.Fatalf("thread %s was skipped", th.ID)
		}
	}
}

// TestOffHostNextThroughTheEngine: a page whose next link leaves the
// community fails the poll with ErrMalformed, commits nothing, and never
// reaches the other host; the account recovers once the API is sane.
func TestOffHostNextThroughTheEngine(t *testing.T) {
	t.Parallel()
	other, hits := elsewhere(t)
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	w := newWorld(t, sim, nil, "4")
	sim.Seed(owner, 3, 1)
	th := sim.Threads(owner)[0]
	sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointSnippets, Status: http.StatusOK, Body: `{
	  "count": 8, "next": "` + other.URL + `/api/v2/pm/?limit=4&offset=4", "previous": null,
	  "results": [{"id": ` + th.ID + `, "headline": "x", "created_at": "2024-02-01T09:00:12.100200+01:00",
	    "last_message_at": "2024-02-01T09:00:12.100200+01:00", "sender": {"id": 42}, "receiver": {"id": ` + w.acct.Options["user_id"] + `}}]}`})
	_, err := w.e.PollOnce(context.Background(), w.acct.Provider, w.acct.ID)
	if !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), w.acct.String()) || strings.Contains(err.Error(), w.acct.Token) {
		t.Fatalf("poll through an off-host next: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the other host got %d requests", n)
	}
	if c, _ := w.store.Cursor(context.Background(), checkpoint.Account{Provider: w.acct.Provider, ID: w.acct.ID}); c.Page != "" || c.Synced {
		t.Fatalf("cursor moved: %+v", c)
	}
	if n := w.js.Count(t); n != 0 {
		t.Fatalf("%d events published from a malformed page", n)
	}
	w.poll()
	w.expectExactly()
}

// TestReplyNeededIsDerivedFromDirections: needed_since is the oldest
// inbound message the owner has not answered; the owner's answer closes the
// episode and the next inbound message opens another.
func TestReplyNeededIsDerivedFromDirections(t *testing.T) {
	t.Parallel()
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	w := newWorld(t, sim, nil, "10")
	t0 := time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC)
	th := sim.AddThread(owner, selfcommunitysim.NewThread{Text: "q1", At: t0})
	sim.AddMessage(owner, th, selfcommunitysim.Owner, "a1", t0.Add(time.Minute))
	q2 := sim.AddMessage(owner, th, selfcommunitysim.Other, "q2", t0.Add(2*time.Minute))
	sim.AddMessage(owner, th, selfcommunitysim.Other, "q2 again", t0.Add(3*time.Minute))
	w.poll()
	replies := func(got []eventstest.Received) []*events.ReplyNeededData {
		var out []*events.ReplyNeededData
		for _, r := range got {
			if r.Envelope.Type == events.ReplyNeeded {
				d, err := events.DecodeData(r.Envelope)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, d.(*events.ReplyNeededData))
			}
		}
		return out
	}
	rs := replies(w.js.ReadAll(t))
	if len(rs) != 1 || !rs[0].NeededSince.Equal(t0.Add(2*time.Minute)) || rs[0].LastInboundMessageID != q2 {
		t.Fatalf("reply needed %+v, want one since q2 (%s)", rs, q2)
	}
	sim.AddMessage(owner, th, selfcommunitysim.Owner, "a2", t0.Add(4*time.Minute))
	q3 := sim.AddMessage(owner, th, selfcommunitysim.Other, "q3", t0.Add(5*time.Minute))
	sim.ResetStats()
	st := w.poll()
	rs = replies(w.js.ReadAll(t))
	if len(rs) != 2 || !rs[1].NeededSince.Equal(t0.Add(5*time.Minute)) || rs[1].LastInboundMessageID != q3 {
		t.Fatalf("second episode %+v", rs)
	}
	// One message request, from the cursor: the last seen message and the
	// two new ones.
	if s := sim.Stats(); st.Fetches != 1 || s.Thread != 1 || s.MessagesListed != 3 {
		t.Fatalf("fetches %d, sim %+v", st.Fetches, s)
	}
}

// TestReadingAThreadCostsNoFetch: thread_status flips to "seen" when the
// owner's token reads a thread (threadsync's own fetch included), which is
// not news: the poll after the one that fetched it fetches nothing.
func TestReadingAThreadCostsNoFetch(t *testing.T) {
	t.Parallel()
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	w := newWorld(t, sim, nil, "10")
	sim.Seed(owner, 5, 2)
	w.poll()
	th := sim.Threads(owner)[0].ID // answered: ping opens an episode
	sim.AddMessage(owner, th, selfcommunitysim.Other, "ping", time.Time{})
	if ti, _ := sim.Thread(owner, th); ti.Status != "new" {
		t.Fatalf("status %s after a member's message", ti.Status)
	}
	if st := w.poll(); st.Fetches != 1 || st.Events != 2 {
		t.Fatalf("poll after one message: %+v", st)
	}
	if ti, _ := sim.Thread(owner, th); ti.Status != "seen" {
		t.Fatalf("status %s after threadsync read the thread", ti.Status)
	}
	if st := w.poll(); st.Fetches != 0 || st.Events != 0 {
		t.Fatalf("poll after the status flipped: %+v", st)
	}
	w.expectExactly()
}
