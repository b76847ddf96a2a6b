package hubspot_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/hubspot"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
)

type world struct {
	sim  *hubspotsim.Server
	js   *eventstest.Env
	acct pollers.Account
	e    *pollers.Engine
}

// newWorld serves sim through wrap (nil: as is) to one account polled by a
// fresh engine on a real Redis and JetStream.
func newWorld(t *testing.T, sim *hubspotsim.Server, wrap func(http.Handler) http.Handler, opts map[string]string) *world {
	t.Helper()
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tok := randomToken()
	sim.AddAccount(portal, tok)
	options := map[string]string{"requests_per_second": "1000"}
	for k, v := range opts {
		options[k] = v
	}
	w := &world{sim: sim, js: eventstest.Start(t), acct: pollers.Account{
		Provider: hubspot.Name, ID: "walk", BaseURL: srv.URL, Token: tok,
		InitialSync: pollers.SyncFull, Options: options,
	}}
	store, _ := checkpointtest.NewStore(t)
	e, err := pollers.New(pollers.Config{
		Store: store, Publisher: w.js.Publisher, SweepInterval: -1,
		Providers: map[string]pollers.Factory{hubspot.Name: hubspot.New},
	}, []pollers.Account{w.acct})
	if err != nil {
		t.Fatal(err)
	}
	w.e = e
	return w
}

func (w *world) poll(t *testing.T) pollers.Stats {
	t.Helper()
	st, err := w.e.PollOnce(context.Background(), w.acct.Provider, w.acct.ID)
	if err != nil || !st.Completed {
		t.Fatalf("walk: %+v %v", st, err)
	}
	return st
}

// TestThreadMovingDuringIncrementalWalk: a thread that gains a message while
// an incremental walk is under way moves behind the cursor (the list is
// sorted by latestMessageTimestamp) and is listed again later in the same
// walk. Its new message is published once, nothing twice.
func TestThreadMovingDuringIncrementalWalk(t *testing.T) {
	t.Parallel()
	sim := hubspotsim.New(hubspotsim.Config{})
	var lists, armed atomic.Int32
	var first atomic.Value
	w := newWorld(t, sim, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(rw, r)
			if armed.Load() == 1 && r.URL.Path == "/conversations/v3/conversations/threads" && lists.Add(1) == 1 {
				sim.AddMessage(portal, first.Load().(string), hubspotsim.Visitor, "still there?", time.Time{})
			}
		})
	}, map[string]string{"page_size": "4"})
	sim.Seed(portal, 6, 2, time.Time{})
	w.poll(t)
	base := len(w.js.ReadAll(t))

	// Six threads change; the first of them changes again mid-walk.
	truth := sim.Threads(portal)
	want := 8
	for _, th := range truth {
		if th.ReplyNeeded {
			want++ // the answer ends an announced episode: its ReplyResolved
		}
		sim.AddMessage(portal, th.ID, hubspotsim.Agent, "update", time.Time{})
	}
	first.Store(truth[0].ID)
	armed.Store(1)
	st := w.poll(t)
	if st.Threads < 7 || st.Pages != 2 {
		t.Fatalf("walk listed %d threads in %d pages, want the 6 changed ones and the moved one again in 2", st.Threads, st.Pages)
	}
	got := w.js.ReadAll(t)[base:]
	// 6 agent answers, the new visitor message and its ReplyNeeded.
	if len(got) != want || st.Events != len(got) {
		t.Fatalf("walk sent %d events, the stream holds %d new ones, want %d", st.Events, len(got), want)
	}
}

// TestEntriesThatAreNotMessages: comments and welcome messages publish
// nothing, closing a thread costs at most one message fetch and publishes
// nothing, and a visitor writing in a closed thread opens a new
// reply-needed episode.
func TestEntriesThatAreNotMessages(t *testing.T) {
	t.Parallel()
	sim := hubspotsim.New(hubspotsim.Config{})
	w := newWorld(t, sim, nil, nil)
	th := sim.AddThread(portal, hubspotsim.NewThread{Welcome: "Hi, how can we help?"})
	sim.AddMessage(portal, th, hubspotsim.Visitor, "refund?", time.Time{})
	sim.AddMessage(portal, th, hubspotsim.Agent, "done", time.Time{})
	w.poll(t)
	if got := w.js.ReadAll(t); len(got) != 3 {
		t.Fatalf("initial sync published %d events, want created and 2 messages (not the welcome)", len(got))
	}

	sim.AddComment(portal, th, "refund booked", time.Time{})
	if st := w.poll(t); st.Events != 0 || st.Fetches != 1 {
		t.Fatalf("after a comment: %+v, want one fetch and no event", st)
	}
	sim.SetStatus(portal, th, hubspotsim.StatusClosed, time.Time{})
	if st := w.poll(t); st.Events != 0 || st.Fetches > 1 {
		t.Fatalf("after closing: %+v, want at most one fetch and no event", st)
	}
	sim.AddMessage(portal, th, hubspotsim.Visitor, "one more thing", time.Time{})
	w.poll(t)
	got := w.js.ReadAll(t)[3:]
	if len(got) != 2 || got[0].Envelope.Type != events.MessageReceived || got[1].Envelope.Type != events.ReplyNeeded {
		t.Fatalf("after a visitor message in a closed thread: %d events", len(got))
	}
	if info, _ := sim.Thread(portal, th); info.Status != hubspotsim.StatusOpen {
		t.Fatalf("thread %s after an incoming message", info.Status)
	}
}

// captureRetry is a log handler that hands over the retry_in of failed
// polls, so the test reads the engine's decision instead of waiting on it.
type captureRetry struct {
	slog.Handler
	retry chan time.Duration
}

func (c captureRetry) Enabled(context.Context, slog.Level) bool { return true }

func (c captureRetry) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "retry_in" {
			select {
			case c.retry <- a.Value.Duration():
			default:
			}
		}
		return true
	})
	return nil
}

func (c captureRetry) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c captureRetry) WithGroup(string) slog.Handler      { return c }

// TestDailyLimitPausesTheAccount: a DAILY 429 makes the engine wait until
// the account's midnight; a burst 429 only the short retry (here longer
// than a request waits in place, so that the poll fails and says when it
// retries).
func TestDailyLimitPausesTheAccount(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		policy string
		want   func(now time.Time) time.Duration
	}{
		{hubspotsim.PolicyDaily, func(now time.Time) time.Duration {
			utc := now.UTC()
			return time.Date(utc.Year(), utc.Month(), utc.Day()+1, 0, 0, 0, 0, time.UTC).Sub(now) + 30*time.Second
		}},
		{hubspotsim.PolicyBurst, func(time.Time) time.Duration { return hubspot.BurstRetry }},
	} {
		t.Run(c.policy, func(t *testing.T) {
			t.Parallel()
			sim := hubspotsim.New(hubspotsim.Config{})
			w := newWorld(t, sim, nil, map[string]string{"timezone": "UTC"})
			sim.InjectFault(hubspotsim.Fault{Status: http.StatusTooManyRequests, Policy: c.policy})
			retry := make(chan time.Duration, 1)
			store, _ := checkpointtest.NewStore(t)
			e, err := pollers.New(pollers.Config{
				Store: store, Publisher: w.js.Publisher, MaxBackoff: time.Second,
				Retry:     pollers.RetryPolicy{MaxInPlace: 5 * time.Second},
				Providers: map[string]pollers.Factory{hubspot.Name: hubspot.New},
				Logger:    slog.New(captureRetry{retry: retry}),
			}, []pollers.Account{w.acct})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- e.Run(ctx) }()
			var got time.Duration
			select {
			case got = <-retry:
			case <-time.After(10 * time.Second): // a failure guard, not synchronisation
				t.Fatal("no failed poll logged")
			}
			want := c.want(time.Now())
			cancel()
			<-done
			// The engine adds up to 250ms of jitter; the test's clock ran on a little.
			if got < want-5*time.Second || got > want+time.Second {
				t.Fatalf("retry in %s, want about %s", got, want)
			}
		})
	}
}

// TestChangeDuringAnIDOrderedWalkIsNotLost: a thread answered after the
// initial walk listed it, while a thread further on carries a newer
// message, is still picked up by the next incremental walk: the id-ordered
// walk's watermark stops at its start.
func TestChangeDuringAnIDOrderedWalkIsNotLost(t *testing.T) {
	t.Parallel()
	sim := hubspotsim.New(hubspotsim.Config{})
	now := time.Now()
	var lists, first atomic.Int32
	var firstID atomic.Value
	w := newWorld(t, sim, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(rw, r)
			// After the second page: the first page's messages are in by then.
			if r.URL.Path == "/conversations/v3/conversations/threads" && lists.Add(1) == 2 && first.Load() == 0 {
				first.Store(1)
				sim.AddMessage(portal, firstID.Load().(string), hubspotsim.Agent, "answered mid-walk", now.Add(time.Second))
			}
		})
	}, map[string]string{"page_size": "2"})
	sim.Seed(portal, 4, 1, time.Time{})
	th := sim.Threads(portal)
	firstID.Store(th[0].ID)
	// The last thread's newest message is minutes ahead of the mid-walk
	// answer (a clock ahead, or a slow walk).
	sim.AddMessage(portal, th[3].ID, hubspotsim.Visitor, "later", now.Add(5*time.Minute))
	w.poll(t)
	base := len(w.js.ReadAll(t))

	st := w.poll(t)
	var got []eventstest.Received
	for _, r := range w.js.ReadAll(t)[base:] {
		if r.Envelope.Type == events.MessageReceived {
			got = append(got, r)
		}
	}
	if st.Walk != pollers.WalkIncremental || len(got) != 1 || got[0].Envelope.Subject != th[0].ID {
		t.Fatalf("incremental walk after the initial one: %+v, %d messages", st, len(got))
	}
}
