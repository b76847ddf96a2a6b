package selfcommunitysim

import (
	"net/http"
	"strconv"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Fault is a canned answer the server gives instead of the real one, to test
// how a client copes with failures. Its Endpoint is EndpointSnippets,
// EndpointThread, EndpointMessage or EndpointSend, and its Account an
// account's username. With Status 200 a Body is served as a success:
// truncated JSON, or a page whose next link points to another host. Without
// a Body it answers with a DRF-style {"detail": ...} error.
type Fault = sim.Fault

// InjectFault queues a fault. Authenticated requests take the first queued
// fault that matches their endpoint and account (first in, first out); a
// fault is dropped once it has answered Times requests. Unauthenticated
// requests get their 401 and leave the queue alone.
func (s *Server) InjectFault(f Fault) { s.faults.Add(f, f.Times) }

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// serveFault answers the request with the first matching fault, if any.
func (s *Server) serveFault(w http.ResponseWriter, endpoint, account string) bool {
	f, ok := s.faults.Take(func(f Fault) bool { return sim.Matches(f.Endpoint, endpoint) && sim.Matches(f.Account, account) })
	if !ok {
		return false
	}
	s.stats.faults.Add(1)
	f.Serve(w, "application/json", func(status int) {
		detail := "Injected fault: " + strconv.Itoa(status) + " " + http.StatusText(status) + "."
		if status == http.StatusTooManyRequests {
			secs, err := strconv.Atoi(f.RetryAfter)
			if err != nil || secs < 1 {
				secs = 1
			}
			detail = throttled(secs)
		}
		writeDetail(w, status, detail)
	})
	return true
}
