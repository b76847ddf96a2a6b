package hubspot_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/hubspot"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// portal and randomToken serve the HubSpot-specific tests of this package.
const portal = pollerstest.HubSpotPortal

func randomToken() string { return pollerstest.HubSpot.Token() }

func newHarness() pollerstest.RealTimeHarness[*hubspotsim.Server] {
	return pollerstest.NewRealTimeHarness(pollerstest.HubSpot)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}

// account is an account on a simulator keeping the real time, with
// options on top of the harness's, in a world of its own.
func account(t *testing.T, opts map[string]string) (*hubspotsim.Server, pollers.Account, *pollerstest.World) {
	h := newHarness()
	a := h.NewRealTimeAccount(t, "walk", 10)
	for k, v := range opts {
		a.Options[k] = v
	}
	return h.Sim(a), a, pollerstest.NewWorld(t)
}

// TestEntriesThatAreNotMessages: comments and welcome messages publish
// nothing, and a comment costs one message fetch; a visitor writing in a
// closed thread opens it again.
func TestEntriesThatAreNotMessages(t *testing.T) {
	t.Parallel()
	sim, a, w := account(t, nil)
	e := w.Engine(pollers.Config{}, a)
	th := sim.AddThread(portal, hubspotsim.NewThread{Welcome: "Hi, how can we help?"})
	sim.AddMessage(portal, th, hubspotsim.Visitor, "refund?", time.Time{})
	sim.AddMessage(portal, th, hubspotsim.Agent, "done", time.Time{})
	pollerstest.PollOnce(t, e, a)
	if got := w.JS.ReadAll(t); len(got) != 3 {
		t.Fatalf("initial sync published %d events, want created and 2 messages (not the welcome)", len(got))
	}
	sim.AddComment(portal, th, "refund booked", time.Time{})
	if st := pollerstest.PollOnce(t, e, a); st.Events != 0 || st.Fetches != 1 {
		t.Fatalf("after a comment: %+v, want one fetch and no event", st)
	}
	sim.SetStatus(portal, th, hubspotsim.StatusClosed, time.Time{})
	sim.AddMessage(portal, th, hubspotsim.Visitor, "one more thing", time.Time{})
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
			sim, a, w := account(t, map[string]string{"timezone": "UTC"})
			sim.InjectFault(hubspotsim.Fault{Status: http.StatusTooManyRequests, Policy: c.policy})
			retry := make(chan time.Duration, 1)
			stop := w.Run(w.Engine(pollers.Config{
				MaxBackoff: time.Second,
				Retry:      pollers.RetryPolicy{MaxInPlace: 5 * time.Second},
				Logger:     slog.New(captureRetry{retry: retry}),
			}, a))
			var got time.Duration
			select {
			case got = <-retry:
			case <-time.After(10 * time.Second): // a failure guard, not synchronisation
				t.Fatal("no failed poll logged")
			}
			want := c.want(time.Now())
			stop()
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
	sim, a, w := account(t, map[string]string{"page_size": "2"})
	now := time.Now()
	sim.Seed(portal, 4, 1, time.Time{})
	th := sim.Threads(portal)
	// The last thread's newest message is minutes ahead of the mid-walk
	// answer (a clock ahead, or a slow walk).
	sim.AddMessage(portal, th[3].ID, hubspotsim.Visitor, "later", now.Add(5*time.Minute))
	watch := pollerstest.NewWatch(a)
	// After the second page: the first page's messages are in by then.
	watch.After(2, func() { sim.AddMessage(portal, th[0].ID, hubspotsim.Agent, "answered mid-walk", now.Add(time.Second)) })
	e := w.Engine(pollers.Config{Providers: map[string]pollers.Factory{hubspot.Name: watch.Factory(hubspot.New)}}, a)
	pollerstest.PollOnce(t, e, a)
	base := len(w.JS.ReadAll(t))

	st := pollerstest.PollOnce(t, e, a)
	var got []eventstest.Received
	for _, r := range w.JS.ReadAll(t)[base:] {
		if r.Envelope.Type == events.MessageReceived {
			got = append(got, r)
		}
	}
	if st.Walk != pollers.WalkIncremental || len(got) != 1 || got[0].Envelope.Subject != th[0].ID {
		t.Fatalf("incremental walk after the initial one: %+v, %d messages", st, len(got))
	}
}
