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
	f.Serve(w, "application/json", func(status int) { faultError(w, status) })
	return true
}

// faultError is the DRF-style body of an injected fault or a scheduled
// one: for 429, DRF's throttling detail, whose wait is the Retry-After
// already in w's header (1 second when there is none or it is not whole
// seconds).
func faultError(w http.ResponseWriter, status int) {
	detail := "Injected fault: " + strconv.Itoa(status) + " " + http.StatusText(status) + "."
	if status == http.StatusTooManyRequests {
		secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || secs < 1 {
			secs = 1
		}
		detail = throttled(secs)
	}
	writeDetail(w, status, detail)
}

// SetSchedule replaces the sustained faults (see sim.Rule) with rules,
// applied to every endpoint, each account's requests counted apart and
// numbered from 1 again; no rules clears them. Status faults answer with
// the same DRF-style body as injected faults. It panics on an invalid
// rule.
func (s *Server) SetSchedule(rules ...sim.Rule) { s.schedule.Set(rules...) }

// ClearSchedule drops every sustained fault.
func (s *Server) ClearSchedule() { s.schedule.Clear() }

// ScheduleStats is what the server saw of an account's client (by
// username) since New or the last ResetStats: requests, scheduled faults,
// the most requests at once, requests sooner than a 429's Retry-After.
func (s *Server) ScheduleStats(username string) sim.Observed { return s.schedule.Observed(username) }

// AllScheduleStats is ScheduleStats of every account that made a request,
// by username.
func (s *Server) AllScheduleStats() map[string]sim.Observed { return s.schedule.AllObserved() }
