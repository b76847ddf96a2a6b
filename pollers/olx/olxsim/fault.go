package olxsim

import (
	"net/http"
	"strconv"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Fault is a canned answer the server gives instead of the real one, to test
// how a client copes with failures. Its Endpoint is one of the Endpoint
// constants and its Account an account id; without a Body it answers with
// an OLX-style JSON error.
type Fault = sim.Fault

// InjectFault queues a fault. Authenticated requests take the first queued
// fault that matches their endpoint and account (first in, first out); a
// fault is dropped once it has answered Times requests. Requests refused
// before authentication (header errors, 401) leave the queue alone.
func (s *Server) InjectFault(f Fault) { s.faults.Add(f, f.Times) }

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// serveFault answers the request with the first matching fault, if any.
func (s *Server) serveFault(w http.ResponseWriter, endpoint, accountID string) bool {
	f, ok := s.faults.Take(func(f Fault) bool { return sim.Matches(f.Endpoint, endpoint) && sim.Matches(f.Account, accountID) })
	if !ok {
		return false
	}
	s.stats.faults.Add(1)
	f.Serve(w, "application/json", func(status int) {
		writeError(w, status, http.StatusText(status), "injected fault: "+strconv.Itoa(status))
	})
	return true
}
