package partizapsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// TestSchedule checks that sustained faults count every endpoint of a
// vendor together, answer with Laravel's bodies, and sit between the
// injected faults and the rate limiter.
func TestSchedule(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 1, Burst: 1})
	id := f.sim.AddThread(vendorA, NewThread{})
	f.sim.SetSchedule(sim.Rule{Every: 2, Status: http.StatusTooManyRequests, RetryAfter: "30"})
	message := func(r response) string {
		t.Helper()
		var e errorBody
		if err := json.Unmarshal(r.body, &e); err != nil || e.Message == "" {
			t.Fatalf("not a Laravel error body: %s", r.body)
		}
		return e.Message
	}

	if r := f.get(sessionA, "/vendor/conversations"); r.status != http.StatusOK {
		t.Fatalf("request 1: %d %s", r.status, r.body)
	}
	r := f.get(sessionA, "/vendor/conversations/"+strconv.FormatInt(id, 10)+"/messages")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "30" || message(r) != "Injected fault: 429 Too Many Requests." {
		t.Fatalf("request 2: %d %v %s", r.status, r.header, r.body)
	}
	// B's requests are numbered apart: its first is not in the burst.
	if r := f.get(sessionB, "/vendor/conversations"); r.status != http.StatusOK {
		t.Fatalf("B's request 1: %d", r.status)
	}
	// A's third request comes sooner than Retry-After allows; the
	// schedule counts it early, and answers it as usual: here the
	// limiter's 429, its bucket having been spent on request 1.
	if r := f.get(sessionA, "/vendor/conversations"); r.status != http.StatusTooManyRequests || message(r) != "Too Many Attempts." {
		t.Fatalf("request 3: %d %s", r.status, r.body)
	}
	o := f.sim.ScheduleStats(strconv.Itoa(vendorA))
	if o.Requests != 3 || o.Status[429] != 1 || o.Throttled != 2 || o.Early != 1 || o.MaxInFlight != 1 || o.InFlight != 0 {
		t.Fatalf("A observed %+v", o)
	}
	if all := f.sim.AllScheduleStats(); len(all) != 2 || all[strconv.Itoa(vendorB)].Requests != 1 {
		t.Fatalf("all observed %+v", all)
	}

	// An injected fault answers first; the schedule's answers spare the
	// limiter's bucket, refilled here.
	f.clock.Advance(time.Second)
	f.sim.SetSchedule(sim.Rule{Every: 1, Status: http.StatusServiceUnavailable})
	f.sim.InjectFault(Fault{Account: strconv.Itoa(vendorB), Status: http.StatusBadGateway})
	for _, want := range []int{502, 503, 503} {
		if r := f.get(sessionB, "/vendor/conversations"); r.status != want {
			t.Fatalf("B with a fault and a schedule: %d, want %d", r.status, want)
		}
	}
	f.sim.ClearSchedule()
	for _, want := range []int{200, 429} {
		if r := f.get(sessionB, "/vendor/conversations"); r.status != want {
			t.Fatalf("B after ClearSchedule: %d, want %d", r.status, want)
		}
	}
	if st := f.sim.Stats(); st.RateLimited != 2 || st.Faults != 1 {
		t.Fatalf("stats %+v", st)
	}
	if o := f.sim.ScheduleStats(strconv.Itoa(vendorB)); o.Requests != 6 || o.Status[503] != 2 {
		t.Fatalf("B observed %+v", o)
	}

	f.sim.ResetStats()
	if o := f.sim.ScheduleStats(strconv.Itoa(vendorA)); o.Requests != 0 || len(o.Status) != 0 {
		t.Fatalf("A observed after ResetStats %+v", o)
	}
}
