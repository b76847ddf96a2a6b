package pollerstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
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

// benchWorld is a benchmark's account of threads × 4 messages, unpaced,
// in a World of its own.
type benchWorld struct {
	*World
	h Harness
	a pollers.Account
}

func newBenchWorld(b *testing.B, h Harness, id string, threads int) *benchWorld {
	w := &benchWorld{World: NewWorld(b), h: h, a: h.NewAccount(b, id, 100)}
	if w.a.Options == nil {
		w.a.Options = map[string]string{}
	}
	w.a.Options["requests_per_second"] = "1000000"
	h.Seed(b, w.a, threads, 4)
	return w
}

// engine is a fresh engine of the account, as a restarted worker's.
func (w *benchWorld) engine(sweep time.Duration) *pollers.Engine {
	return w.Engine(pollers.Config{
		SweepInterval: sweep,
		Providers:     map[string]pollers.Factory{w.h.Provider(): w.h.Factory()},
	}, w.a)
}

func bench(b *testing.B, h Harness, threads int) {
	ctx := context.Background()
	w := newBenchWorld(b, h, "bench", threads)
	a, engine := w.a, w.engine
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
	evRate, sweepRate := float64(initial.Events)/dInitial.Seconds(), float64(sweep.Threads)/dSweep.Seconds()
	b.ReportMetric(evRate, "events/s")
	b.ReportMetric(sweepRate, "unchanged_threads/s")
	b.ReportMetric(req, "requests/changed_thread")
	fmt.Printf("| %s | %d | %.0f | %.0f | %.3f |\n", h.Provider(), threads, evRate, sweepRate, req)
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
		b.ReportMetric(clean.took.Seconds(), "clean_s")
		b.ReportMetric(throttled.took.Seconds(), "throttled_s")
		b.ReportMetric(float64(throttled.refused), "refused")
		b.ReportMetric(extra, "requests_ratio")
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
	w := newBenchWorld(b, h, "tax", threads)
	a, js, e := w.a, w.JS, w.engine(0)
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
