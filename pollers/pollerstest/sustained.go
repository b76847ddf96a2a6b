package pollerstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/sim"
)

// sustainedFault is a fault that lasts the whole sync, as real APIs'
// throttling and flakiness do.
type sustainedFault struct {
	name  string
	rules []sim.Rule
}

func sustainedFaults() []sustainedFault {
	throttle := func(n int) sustainedFault {
		return sustainedFault{fmt.Sprintf("429 every %d", n), []sim.Rule{{Every: n, Status: http.StatusTooManyRequests, RetryAfter: "1"}}}
	}
	return []sustainedFault{
		throttle(3), throttle(5), throttle(7),
		{"503 bursts", []sim.Rule{{Every: 6, Burst: 2, Status: http.StatusServiceUnavailable}}},
		{"slow every 10", []sim.Rule{{Every: 10, Delay: 3 * time.Second}}},
		{"reset mid-body", []sim.Rule{{Every: 4, Reset: true}}},
		{"truncated body", []sim.Rule{{Every: 4, Truncate: true}}},
	}
}

// sustainedThreads is how many threads each sustained scenario syncs:
// several pages in `make test`, many more with THREADSYNC_CHAOS=full.
func sustainedThreads() int {
	if os.Getenv("THREADSYNC_CHAOS") == "full" {
		return 40 * pageSize
	}
	return 6*pageSize + 1 // enough requests for every rule to fire, on every provider
}

// testSustained runs an initial sync of several pages and then a mutation
// while the provider misbehaves all along, and checks that the sync
// completes, that every event is on the stream exactly once and in order,
// that no request went out before a Retry-After had elapsed, and that the
// account never had more than one request in flight.
func testSustained(t *testing.T, h Harness) {
	for _, sf := range sustainedFaults() {
		t.Run(sf.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, h, 1)
			a := f.accts[0]
			f.seed(a, sustainedThreads())
			cfg := f.config(nil)
			// Retries in place heal every fault here; the backoff is short
			// so that the suite stays quick.
			cfg.Retry = pollers.RetryPolicy{Attempts: 6, MinWait: 10 * time.Millisecond, MaxWait: 200 * time.Millisecond}
			e, err := pollers.New(cfg, []pollers.Account{a})
			if err != nil {
				t.Fatal(err)
			}
			h.Sustain(t, a, sf.rules...)

			polls, failed, _ := syncThrough(t, e, a)
			truth := h.Truth(t, a)
			got := f.JS.ReadAll(t)
			checkFullSync(t, truth, got)

			want := Expect(truth)
			nt := h.AddThread(t, a, "new question while throttled")
			h.AddMessage(t, a, truth[0].ID, events.Outbound, "answer while throttled")
			want.Created++
			want.Messages += 2
			want.Replies++ // the new thread's; the answer opens no episode
			p2, f2, _ := syncThrough(t, e, a)
			polls, failed = polls+p2, failed+f2
			// Quiet walks under the same faults: the second skips every
			// page, as answered the same as in the first, and neither
			// publishes.
			for i := range 2 {
				p, fl, st := syncThrough(t, e, a)
				polls, failed = polls+p, failed+fl
				if st.Events != 0 || (i == 1 && fl == 0 && st.Same != st.Pages) {
					t.Fatalf("quiet walk %d under faults: %+v; want no events and, the second time, every page skipped", i+1, st)
				}
			}
			// A reply between two polls, still under the faults, is
			// published once although every page was remembered.
			h.AddMessage(t, a, nt, events.Outbound, "answer to the new question")
			want.Messages++
			p3, f3, _ := syncThrough(t, e, a)
			polls, failed = polls+p3, failed+f3
			// Every fault here heals within a request's attempts: a poll
			// that failed means one was not retried in place.
			if failed > 0 {
				t.Fatalf("%d of %d polls failed", failed, polls)
			}
			all := f.JS.ReadAll(t)
			if c := counts(t, all); c != want {
				t.Fatalf("after the mutation the stream holds %+v, want %+v", c, want)
			}
			for _, r := range all[len(got):] {
				if r.Envelope.Subject != nt && r.Envelope.Subject != truth[0].ID {
					t.Fatalf("the mutation published an event of thread %s", r.Envelope.Subject)
				}
			}
			o := h.Observed(t, a)
			if o.Early != 0 {
				t.Fatalf("%d requests sent before their Retry-After had elapsed (%+v)", o.Early, o)
			}
			if o.MaxInFlight > 1 {
				t.Fatalf("%d requests of one account in flight at once", o.MaxInFlight)
			}
			for _, r := range sf.rules {
				var served int64
				switch {
				case r.Status != 0:
					served = o.Status[r.Status]
				case r.Reset:
					served = o.Reset
				case r.Truncate:
					served = o.Truncated
				default:
					served = o.Delayed
				}
				if served == 0 {
					t.Fatalf("the rule %+v was never served (%+v): the scenario tested nothing", r, o)
				}
			}
			faults := o.Delayed + o.Reset + o.Truncated
			for _, n := range o.Status {
				faults += n
			}
			fmt.Printf("sustained: provider=%s fault=%q threads=%d requests=%d faults=%d polls=%d failed_polls=%d events=%d early=%d max_in_flight=%d\n",
				h.Provider(), sf.name, len(truth)+1, o.Requests, faults, polls, failed, len(all), o.Early, o.MaxInFlight)
		})
	}
}

// syncThrough polls the account until a walk completes, as the engine's
// loop would, and says how many polls it took, how many failed and what
// the one that completed did. Under sustained faults a poll may still fail
// now and then (a request that met more faults in a row than it has
// attempts); the sync must still finish.
func syncThrough(t *testing.T, e *pollers.Engine, a pollers.Account) (polls, failed int, last pollers.Stats) {
	t.Helper()
	for polls < 5 {
		polls++
		st, err := e.PollOnce(context.Background(), a.Provider, a.ID)
		if err != nil {
			failed++
			t.Logf("poll %d failed: %v", polls, err)
			continue
		}
		if st.Completed {
			return polls, failed, st
		}
	}
	t.Fatalf("no complete walk in %d polls (%d failed)", polls, failed)
	return polls, failed, pollers.Stats{}
}

// testSustainReachesEveryEndpoint checks the harness's sustained faults
// through the provider's client alone: they answer message fetches as well
// as lists, Observed sees the requests, and no rules clear them.
func testSustainReachesEveryEndpoint(t *testing.T, h Harness) {
	a := h.NewAccount(t, "sustained", 10)
	h.Seed(t, a, 2, 2)
	p, err := h.Factory()(a, &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h.Sustain(t, a, sim.Rule{Every: 2, Status: http.StatusServiceUnavailable})
	page, err := p.ListThreads(ctx, pollers.Query{})
	if err != nil || len(page.Items) == 0 {
		t.Fatalf("request 1: %+v, %v", page, err)
	}
	var he *pollers.HTTPError
	if _, err := p.Messages(ctx, &page.Items[0], pollers.MessageCursor{}); !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable {
		t.Fatalf("request 2, a message fetch: %v, want HTTP 503", err)
	}
	if o := h.Observed(t, a); o.Requests < 2 || o.Status[http.StatusServiceUnavailable] < 1 {
		t.Fatalf("observed %+v", o)
	}
	// A body cut short reaches the client as one: the simulator wires
	// the schedule where the connection can be cut.
	h.Sustain(t, a, sim.Rule{Every: 1, Truncate: true})
	if _, err := p.ListThreads(ctx, pollers.Query{}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a truncated list page: %v, want an unexpected EOF", err)
	}
	if o := h.Observed(t, a); o.Truncated != 1 {
		t.Fatalf("observed %+v, want 1 truncated", o)
	}
	h.Sustain(t, a)
	for range 2 {
		if _, err := p.Messages(ctx, &page.Items[0], pollers.MessageCursor{}); err != nil {
			t.Fatalf("after clearing: %v", err)
		}
	}
}
