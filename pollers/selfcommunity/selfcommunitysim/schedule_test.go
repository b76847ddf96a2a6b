package selfcommunitysim

import (
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// TestSchedule checks that sustained faults count every endpoint of an
// account together, answer with DRF's bodies, and sit between the
// injected faults and the rate limiter.
func TestSchedule(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 1, Burst: 1})
	th := f.sim.AddThread(userA, NewThread{})
	f.sim.SetSchedule(sim.Rule{Every: 2, Status: http.StatusTooManyRequests, RetryAfter: "30"})

	if r := f.get(tokenA, "/api/v2/pm/"); r.status != http.StatusOK {
		t.Fatalf("request 1: %d %s", r.status, r.body)
	}
	r := f.get(tokenA, "/api/v2/pm/?thread="+th)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "30" ||
		detail(t, r) != "Request was throttled. Expected available in 30 seconds." {
		t.Fatalf("request 2: %d %v %s", r.status, r.header, r.body)
	}
	// B's requests are numbered apart: its first is not in the burst.
	if r := f.get(tokenB, "/api/v2/pm/"); r.status != http.StatusOK {
		t.Fatalf("B's request 1: %d", r.status)
	}
	// A's third request comes sooner than Retry-After allows; the
	// schedule counts it early, and answers it as usual: here the
	// limiter's 429, its bucket having been spent on request 1.
	r = f.get(tokenA, "/api/v2/pm/")
	if r.status != http.StatusTooManyRequests || detail(t, r) != "Request was throttled. Expected available in 1 second." {
		t.Fatalf("request 3: %d %s", r.status, r.body)
	}
	o := f.sim.ScheduleStats(userA)
	if o.Requests != 3 || o.Status[429] != 1 || o.Throttled != 2 || o.Early != 1 || o.MaxInFlight != 1 || o.InFlight != 0 {
		t.Fatalf("A observed %+v", o)
	}
	if all := f.sim.AllScheduleStats(); len(all) != 2 || all[userB].Requests != 1 {
		t.Fatalf("all observed %+v", all)
	}

	// An injected fault answers first; the schedule's answers spare the
	// limiter's bucket, refilled here.
	f.clock.Advance(time.Second)
	f.sim.SetSchedule(sim.Rule{Every: 1, Status: http.StatusServiceUnavailable})
	f.sim.InjectFault(Fault{Account: userB, Status: http.StatusBadGateway})
	for _, want := range []int{502, 503, 503} {
		r := f.get(tokenB, "/api/v2/pm/")
		if r.status != want {
			t.Fatalf("B with a fault and a schedule: %d, want %d", r.status, want)
		}
		if want == 503 && detail(t, r) != "Injected fault: 503 Service Unavailable." {
			t.Fatalf("503 detail: %s", r.body)
		}
	}
	f.sim.ClearSchedule()
	for _, want := range []int{200, 429} {
		if r := f.get(tokenB, "/api/v2/pm/"); r.status != want {
			t.Fatalf("B after ClearSchedule: %d, want %d", r.status, want)
		}
	}
	if st := f.sim.Stats(); st.RateLimited != 2 || st.Faults != 1 {
		t.Fatalf("stats %+v", st)
	}
	if o := f.sim.ScheduleStats(userB); o.Requests != 6 || o.Status[503] != 2 {
		t.Fatalf("B observed %+v", o)
	}

	f.sim.ResetStats()
	if o := f.sim.ScheduleStats(userA); o.Requests != 0 || len(o.Status) != 0 {
		t.Fatalf("A observed after ResetStats %+v", o)
	}
}
