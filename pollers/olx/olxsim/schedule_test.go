package olxsim

import (
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// TestSchedule checks that sustained faults count every endpoint of an
// account together, answer with OLX's error body, and sit between the
// injected faults and the rate limiter.
func TestSchedule(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 1, Burst: 1, RetryAfter: true})
	th := f.sim.AddThread(acctA, NewThread{})
	f.sim.SetSchedule(sim.Rule{Every: 2, Status: http.StatusTooManyRequests, RetryAfter: "30"})

	r := f.get("/api/partner/threads", tokenA)
	if r.status != http.StatusOK {
		t.Fatalf("request 1: %d %s", r.status, r.body)
	}
	r = f.get("/api/partner/threads/"+th+"/messages", tokenA)
	if e := apiError(t, r); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "30" ||
		e.Status != 429 || e.Title != "Too Many Requests" || e.Detail != "injected fault: 429" {
		t.Fatalf("request 2: %d %v %s", r.status, r.header, r.body)
	}
	// B's requests are numbered apart: its first is not in the burst.
	if r := f.get("/api/partner/threads", tokenB); r.status != http.StatusOK {
		t.Fatalf("B's request 1: %d", r.status)
	}
	// A's third request comes sooner than Retry-After allows; the
	// schedule counts it early, and answers it as usual: here the
	// limiter's 429, its bucket having been spent on request 1.
	if r := f.get("/api/partner/threads/"+th, tokenA); r.status != http.StatusTooManyRequests || apiError(t, r).Detail != "request limit exceeded" {
		t.Fatalf("request 3: %d %s", r.status, r.body)
	}
	o := f.sim.ScheduleStats(acctA)
	if o.Requests != 3 || o.Status[429] != 1 || o.Throttled != 2 || o.Early != 1 || o.MaxInFlight != 1 || o.InFlight != 0 {
		t.Fatalf("A observed %+v", o)
	}
	if all := f.sim.AllScheduleStats(); len(all) != 2 || all[acctB].Requests != 1 {
		t.Fatalf("all observed %+v", all)
	}

	// An injected fault answers first; the schedule's answers spare the
	// limiter's bucket, refilled here.
	f.clock.Advance(time.Second)
	f.sim.SetSchedule(sim.Rule{Every: 1, Status: http.StatusServiceUnavailable})
	f.sim.InjectFault(Fault{Account: acctB, Status: http.StatusBadGateway})
	for _, want := range []int{502, 503, 503} {
		if r := f.get("/api/partner/threads", tokenB); r.status != want {
			t.Fatalf("B with a fault and a schedule: %d, want %d", r.status, want)
		}
	}
	f.sim.ClearSchedule()
	for _, want := range []int{200, 429} {
		if r := f.get("/api/partner/threads", tokenB); r.status != want {
			t.Fatalf("B after ClearSchedule: %d, want %d", r.status, want)
		}
	}
	if st := f.sim.Stats(); st.RateLimited != 2 || st.Faults != 1 {
		t.Fatalf("stats %+v", st)
	}
	if o := f.sim.ScheduleStats(acctB); o.Requests != 6 || o.Status[503] != 2 {
		t.Fatalf("B observed %+v", o)
	}

	f.sim.ResetStats()
	if o := f.sim.ScheduleStats(acctA); o.Requests != 0 || len(o.Status) != 0 {
		t.Fatalf("A observed after ResetStats %+v", o)
	}
}
