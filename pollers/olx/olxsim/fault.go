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
	f.Serve(w, "application/json", func(status int) { faultError(w, status) })
	return true
}

// faultError is the OLX error body of an injected fault or a scheduled one.
func faultError(w http.ResponseWriter, status int) {
	writeError(w, status, http.StatusText(status), "injected fault: "+strconv.Itoa(status))
}

// SetSchedule replaces the sustained faults (see sim.Rule) with rules,
// applied to every endpoint, each account's requests counted apart and
// numbered from 1 again; no rules clears them. Status faults answer with
// the same OLX error body as injected faults. It panics on an invalid
// rule.
func (s *Server) SetSchedule(rules ...sim.Rule) { s.schedule.Set(rules...) }

// ClearSchedule drops every sustained fault.
func (s *Server) ClearSchedule() { s.schedule.Clear() }

// ScheduleStats is what the server saw of an account's client (by account
// id) since New or the last ResetStats: requests, scheduled faults, the
// most requests at once, requests sooner than a 429's Retry-After.
func (s *Server) ScheduleStats(accountID string) sim.Observed { return s.schedule.Observed(accountID) }

// AllScheduleStats is ScheduleStats of every account that made a request,
// by account id.
func (s *Server) AllScheduleStats() map[string]sim.Observed { return s.schedule.AllObserved() }
