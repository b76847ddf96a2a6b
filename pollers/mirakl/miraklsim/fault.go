package miraklsim

import (
	"net/http"
	"strconv"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Fault is a canned answer the server gives instead of the real one, to test
// how a client copes with failures.
type Fault struct {
	// Endpoint is "M10", "M11", "M12", or "" for any of them.
	Endpoint string
	// Shop restricts the fault to requests of one shop; "" for any.
	Shop string
	// Status is the HTTP status; default 500. With 200 and a Body the body
	// is served as a success, e.g. truncated JSON.
	Status int
	// RetryAfter is the Retry-After header value; "" sends none.
	RetryAfter string
	// Body is the raw response body; when empty, a Mirakl-style JSON error.
	Body string
	// Times is how many requests the fault answers; default 1.
	Times int
}

// InjectFault queues a fault. Authenticated requests take the first queued
// fault that matches their endpoint and shop (first in, first out); a fault
// is dropped once it has answered Times requests. Unauthenticated requests
// get their 401 and leave the queue alone.
func (s *Server) InjectFault(f Fault) { s.faults.Add(f, f.Times) }

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// serveFault answers the request with the first matching fault, if any.
func (s *Server) serveFault(w http.ResponseWriter, endpoint, shopID string) bool {
	f, ok := s.faults.Take(func(f Fault) bool { return sim.Matches(f.Endpoint, endpoint) && sim.Matches(f.Shop, shopID) })
	if !ok {
		return false
	}
	s.stats.faults.Add(1)
	sim.Fault{Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body}.Serve(w, "application/json", func(status int) { faultError(w, status) })
	return true
}

// faultError is the Mirakl-style body of an injected fault or a scheduled
// one.
func faultError(w http.ResponseWriter, status int) {
	writeError(w, status, "injected fault: "+strconv.Itoa(status)+" "+http.StatusText(status))
}

// SetSchedule replaces the sustained faults (see sim.Rule) with rules,
// applied to every endpoint, each shop's requests counted apart and
// numbered from 1 again; no rules clears them. Status faults answer with
// the same Mirakl-style body as injected faults. It panics on an invalid
// rule.
func (s *Server) SetSchedule(rules ...sim.Rule) { s.schedule.Set(rules...) }

// ClearSchedule drops every sustained fault.
func (s *Server) ClearSchedule() { s.schedule.Clear() }

// ScheduleStats is what the server saw of a shop's client since New or the
// last ResetStats: requests, scheduled faults, the most requests at once,
// requests sooner than a 429's Retry-After.
func (s *Server) ScheduleStats(shopID string) sim.Observed { return s.schedule.Observed(shopID) }

// AllScheduleStats is ScheduleStats of every shop that made a request, by
// shop id.
func (s *Server) AllScheduleStats() map[string]sim.Observed { return s.schedule.AllObserved() }
