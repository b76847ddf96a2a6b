package hubspotsim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// TestSchedule checks that sustained faults count every endpoint of an
// account together, answer with HubSpot's bodies (the burst policy's for
// 429), and sit between the injected faults and the rate limits.
func TestSchedule(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 0.1, RetryAfter: true}) // 1 per 10 s
	th := f.sim.AddThread(portalA, NewThread{At: t0})
	f.sim.SetSchedule(sim.Rule{Every: 2, Status: http.StatusTooManyRequests, RetryAfter: "30"})

	resp, body := f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = f.get(tokA, threadsURL+"/"+th+"/messages")
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	var rl rateLimitBody
	if err := json.Unmarshal(body, &rl); err != nil || rl.PolicyName != PolicyBurst || rl.ErrorType != "RATE_LIMIT" ||
		rl.CorrelationID == "" || rl.CorrelationID != resp.Header.Get("X-HubSpot-Correlation-Id") || resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("request 2: %v %s", resp.Header, body)
	}
	// B's requests are numbered apart: its first is not in the burst.
	resp, body = f.get(tokB, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
	// A's third request comes sooner than Retry-After allows; the
	// schedule counts it early, and answers it as usual: here the burst
	// window's 429, request 1 having filled it.
	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("X-HubSpot-RateLimit-Max") != "1" || resp.Header.Get("Retry-After") != "10" {
		t.Fatalf("request 3: %v %s", resp.Header, body)
	}
	o := f.sim.ScheduleStats(portalA)
	if o.Requests != 3 || o.Status[429] != 1 || o.Throttled != 2 || o.Early != 1 || o.MaxInFlight != 1 || o.InFlight != 0 {
		t.Fatalf("A observed %+v", o)
	}
	if all := f.sim.AllScheduleStats(); len(all) != 2 || all[portalB].Requests != 1 {
		t.Fatalf("all observed %+v", all)
	}

	// An injected fault answers first; the schedule's answers leave the
	// window alone, rolled on here.
	f.clock.Advance(10 * time.Second)
	f.sim.SetSchedule(sim.Rule{Every: 1, Status: http.StatusServiceUnavailable})
	f.sim.InjectFault(Fault{Account: portalB, Status: http.StatusBadGateway})
	for _, want := range []int{502, 503, 503} {
		resp, body := f.get(tokB, threadsURL)
		wantStatus(t, resp, body, want)
		wantError(t, body, catInternal)
	}
	f.sim.ClearSchedule()
	for _, want := range []int{200, 429} {
		resp, body := f.get(tokB, threadsURL)
		wantStatus(t, resp, body, want)
	}
	if st := f.sim.Stats(); st.RateLimited != 2 || st.Faults != 1 {
		t.Fatalf("stats %+v", st)
	}
	if o := f.sim.ScheduleStats(portalB); o.Requests != 6 || o.Status[503] != 2 {
		t.Fatalf("B observed %+v", o)
	}

	f.sim.ResetStats()
	if o := f.sim.ScheduleStats(portalA); o.Requests != 0 || len(o.Status) != 0 {
		t.Fatalf("A observed after ResetStats %+v", o)
	}
}
