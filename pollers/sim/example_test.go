package sim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/threadsync/threadsync/pollers/sim"
)

// A simulator queues injected faults and lets each request take the first
// one that matches it, before any other work.
func ExampleFaults() {
	var faults sim.Faults[sim.Fault]
	faults.Add(sim.Fault{Endpoint: "threads", Status: http.StatusServiceUnavailable, RetryAfter: "2"}, 1)

	for _, endpoint := range []string{"messages", "threads", "threads"} {
		f, ok := faults.Take(func(f sim.Fault) bool { return sim.Matches(f.Endpoint, endpoint) && sim.Matches(f.Account, "seller") })
		if !ok {
			fmt.Println(endpoint, "served normally")
			continue
		}
		rec := httptest.NewRecorder()
		f.Serve(rec, "application/json", func(status int) {
			sim.JSON{}.Write(rec, status, map[string]string{"error": http.StatusText(status)})
		})
		fmt.Println(endpoint, rec.Code, rec.Header().Get("Retry-After"), strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// messages served normally
	// threads 503 2 {"error":"Service Unavailable"}
	// threads served normally
}

// A simulator runs every request of an account through its schedule,
// which answers by rules and watches how the client behaves.
func ExampleSchedule() {
	var s sim.Schedule
	s.Set(sim.Rule{Every: 3, Status: http.StatusTooManyRequests, RetryAfter: "1"})
	chain := sim.Chain{
		Error: func(w http.ResponseWriter, status int) {
			sim.JSON{}.Write(w, status, map[string]string{"error": http.StatusText(status)})
		},
		Next: func(w http.ResponseWriter) { sim.JSON{}.Write(w, http.StatusOK, map[string]int{"threads": 2}) },
	}
	for range 4 {
		rec := httptest.NewRecorder()
		s.Handle(rec, httptest.NewRequest(http.MethodGet, "/threads", nil), "seller", chain)
		fmt.Println(rec.Code, rec.Header().Get("Retry-After"), strings.TrimSpace(rec.Body.String()))
	}
	o := s.Observed("seller")
	fmt.Println("requests", o.Requests, "throttled", o.Throttled, "early", o.Early)
	// Output:
	// 200  {"threads":2}
	// 200  {"threads":2}
	// 429 1 {"error":"Too Many Requests"}
	// 200  {"threads":2}
	// requests 4 throttled 1 early 1
}
