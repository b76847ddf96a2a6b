package miraklsim

import (
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// TestSchedule checks that sustained faults count every endpoint of a
// shop together, answer with Mirakl's error body, and sit between the
// injected faults and the rate limiter.
func TestSchedule(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 1, Burst: 1})
	id := addThreads(f.sim, shopA, 1)[0]
	f.sim.SetSchedule(sim.Rule{Every: 2, Status: http.StatusTooManyRequests, RetryAfter: "30"})

	resp, body := f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = f.get(keyA, "/api/inbox/threads/"+id)
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	wantErrorBody(t, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("request 2: %v %s", resp.Header, body)
	}
	// B's requests are numbered apart: its first is not in the burst.
	resp, body = f.get(keyB, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)
	// A's third request comes sooner than Retry-After allows; the
	// schedule counts it early, and answers it as usual: here the
	// limiter's 429, its bucket having been spent on request 1.
	resp, body = f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("request 3: %v %s", resp.Header, body)
	}
	o := f.sim.ScheduleStats(shopA)
	if o.Requests != 3 || o.Status[429] != 1 || o.Throttled != 2 || o.Early != 1 || o.MaxInFlight != 1 || o.InFlight != 0 {
		t.Fatalf("A observed %+v", o)
	}
	if all := f.sim.AllScheduleStats(); len(all) != 2 || all[shopB].Requests != 1 {
		t.Fatalf("all observed %+v", all)
	}

	// An injected fault answers first; the schedule's answers spare the
	// limiter's bucket, refilled here.
	f.clock.Advance(time.Second)
	f.sim.SetSchedule(sim.Rule{Every: 1, Status: http.StatusServiceUnavailable})
	f.sim.InjectFault(Fault{Account: shopB, Status: http.StatusBadGateway})
	for _, want := range []int{502, 503, 503} {
		resp, body := f.get(keyB, "/api/inbox/threads")
		wantStatus(t, resp, body, want)
		wantErrorBody(t, body, want)
	}
	f.sim.ClearSchedule()
	for _, want := range []int{200, 429} {
		resp, body := f.get(keyB, "/api/inbox/threads")
		wantStatus(t, resp, body, want)
	}
	if st := f.sim.Stats(); st.RateLimited != 2 || st.Faults != 1 {
		t.Fatalf("stats %+v", st)
	}
	if o := f.sim.ScheduleStats(shopB); o.Requests != 6 || o.Status[503] != 2 {
		t.Fatalf("B observed %+v", o)
	}

	f.sim.ResetStats()
	if o := f.sim.ScheduleStats(shopA); o.Requests != 0 || len(o.Status) != 0 {
		t.Fatalf("A observed after ResetStats %+v", o)
	}
}
