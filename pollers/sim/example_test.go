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
