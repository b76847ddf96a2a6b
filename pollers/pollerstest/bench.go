package pollerstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Bench measures a provider at a given size through the real engine, Redis
// and JetStream: a walk over an unchanged inbox (threads per second) and
// the provider API requests each changed thread costs when 1% change. It
// prints one row of the README's per-provider table.
func Bench(b *testing.B, h Harness, threads int) {
	for range b.N {
		bench(b, h, threads)
	}
}

func bench(b *testing.B, h Harness, threads int) {
	ctx := context.Background()
	store, _ := checkpointtest.NewStore(b)
	js := eventstest.Start(b)
	a := h.NewAccount(b, "bench", 100)
	if a.Options == nil {
		a.Options = map[string]string{}
	}
	a.Options["requests_per_second"] = "1000000"
	h.Seed(b, a, threads, 4)
	engine := func(sweep time.Duration) *pollers.Engine {
		e, err := pollers.New(pollers.Config{
			Store: store, Publisher: js.Publisher, SweepInterval: sweep,
			Providers: map[string]pollers.Factory{h.Provider(): h.Factory()},
		}, []pollers.Account{a})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	poll := func(e *pollers.Engine) (pollers.Stats, time.Duration) {
		start := time.Now()
		st, err := e.PollOnce(ctx, a.Provider, a.ID)
		if err != nil || !st.Completed {
			b.Fatalf("poll: %+v %v", st, err)
		}
		return st, time.Since(start)
	}
	initial, dInitial := poll(engine(time.Nanosecond))
	sweep, dSweep := poll(engine(time.Nanosecond))
	if sweep.Events != 0 {
		b.Fatalf("unchanged sweep published %d events", sweep.Events)
	}
	truth := h.Truth(b, a)
	changed := max(threads/100, 1)
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, i := range rnd.Perm(len(truth))[:changed] {
		h.AddMessage(b, a, truth[i].ID, events.Inbound, "any news?")
	}
	before := h.Requests(b, a)
	inc, _ := poll(engine(-1))
	after := h.Requests(b, a)
	if inc.Changed < changed {
		b.Fatalf("walk after changes saw %d changed threads, want %d", inc.Changed, changed)
	}
	req := float64(after.List-before.List+after.Messages-before.Messages) / float64(changed)
	fmt.Printf("| %s | %d | %.0f | %.0f | %.3f |\n", h.Provider(), threads,
		float64(initial.Events)/dInitial.Seconds(), float64(sweep.Threads)/dSweep.Seconds(), req)
}

// FaultTax measures what sustained throttling costs a provider: an initial
// sync of threads without faults, and another with a 429 (Retry-After: 1)
// on every 5th request, side by side: wall time and requests sent. It
// prints one row of the README's fault-tax table and fails when the
// throttled sync sends more than 1.25 times the fault-free requests plus
// the refused ones, or does not complete.
func FaultTax(b *testing.B, h Harness, threads int) {
	for range b.N {
		clean := taxRun(b, h, threads, nil)
		throttled := taxRun(b, h, threads, []sim.Rule{{Every: 5, Status: http.StatusTooManyRequests, RetryAfter: "1"}})
		extra := float64(throttled.requests-throttled.refused) / float64(clean.requests)
		fmt.Printf("| %s | %d | %.1f | %d | %.1f | %d | %d | %.3f |\n", h.Provider(), threads,
			clean.took.Seconds(), clean.requests, throttled.took.Seconds(), throttled.requests, throttled.refused, extra)
		if extra > 1.25 {
			b.Errorf("%s: the throttled sync sent %.2f× the fault-free requests besides the refused ones, want at most 1.25×", h.Provider(), extra)
		}
	}
}

type taxResult struct {
	took              time.Duration
	requests, refused int64
}

func taxRun(b *testing.B, h Harness, threads int, rules []sim.Rule) taxResult {
	store, _ := checkpointtest.NewStore(b)
	js := eventstest.Start(b)
	a := h.NewAccount(b, "tax", 100)
	if a.Options == nil {
		a.Options = map[string]string{}
	}
	a.Options["requests_per_second"] = "1000000"
	h.Seed(b, a, threads, 4)
	e, err := pollers.New(pollers.Config{
		Store: store, Publisher: js.Publisher,
		Providers: map[string]pollers.Factory{h.Provider(): h.Factory()},
	}, []pollers.Account{a})
	if err != nil {
		b.Fatal(err)
	}
	h.Sustain(b, a, rules...)
	start := time.Now()
	for polls := 1; ; polls++ {
		st, err := e.PollOnce(context.Background(), a.Provider, a.ID)
		if err == nil && st.Completed {
			break
		}
		if polls == 10 {
			b.Fatalf("%s: no complete initial sync in 10 polls: %+v %v", h.Provider(), st, err)
		}
	}
	took := time.Since(start)
	if want := Expect(h.Truth(b, a)); counts(b, js.ReadAll(b)) != want {
		b.Fatalf("%s: the initial sync did not publish everything once", h.Provider())
	}
	o := h.Observed(b, a)
	return taxResult{took: took, requests: o.Requests, refused: o.Status[http.StatusTooManyRequests]}
}
