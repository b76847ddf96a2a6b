package partizapsim

import (
	"net/http"
	"strconv"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Fault is a canned answer the server gives instead of the real one, to test
// how a client copes with failures.
type Fault struct {
	// Endpoint is EndpointConversations, EndpointMessages, EndpointSend,
	// EndpointSearch, or "" for any of them.
	Endpoint string
	// Account restricts the fault to requests of one vendor (its user id);
	// 0 for any.
	Account int64
	// Status is the HTTP status; default 500. With 200 and a Body the body
	// is served as a success, e.g. truncated JSON.
	Status int
	// RetryAfter is the Retry-After header value; "" sends none.
	RetryAfter string
	// Body is the raw response body; when empty, a Laravel-style
	// {"message": ...} error.
	Body string
	// Times is how many requests the fault answers; default 1.
	Times int
}

// InjectFault queues a fault. Authenticated requests take the first queued
// fault that matches their endpoint and vendor (first in, first out); a
// fault is dropped once it has answered Times requests. Unauthenticated
// requests get their 401 and leave the queue alone.
func (s *Server) InjectFault(f Fault) { s.faults.Add(f, f.Times) }

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// serveFault answers the request with the first matching fault, if any.
func (s *Server) serveFault(w http.ResponseWriter, endpoint string, vendorID int64) bool {
	f, ok := s.faults.Take(func(f Fault) bool { return sim.Matches(f.Endpoint, endpoint) && sim.Matches(f.Account, vendorID) })
	if !ok {
		return false
	}
	s.stats.faults.Add(1)
	sim.Fault{Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body}.Serve(w, "application/json", func(status int) { faultError(w, status) })
	return true
}

// faultError is the Laravel-style body of an injected fault or a
// scheduled one.
func faultError(w http.ResponseWriter, status int) {
	writeError(w, status, "Injected fault: "+strconv.Itoa(status)+" "+http.StatusText(status)+".")
}

// SetSchedule replaces the sustained faults (see sim.Rule) with rules,
// applied to every endpoint, each vendor's requests counted apart and
// numbered from 1 again; no rules clears them. Status faults answer with
// the same Laravel-style body as injected faults. It panics on an invalid
// rule.
func (s *Server) SetSchedule(rules ...sim.Rule) { s.schedule.Set(rules...) }

// ClearSchedule drops every sustained fault.
func (s *Server) ClearSchedule() { s.schedule.Clear() }

// ScheduleStats is what the server saw of a vendor's client since New or
// the last ResetStats: requests, scheduled faults, the most requests at
// once, requests sooner than a 429's Retry-After.
func (s *Server) ScheduleStats(vendorID int64) sim.Observed {
	return s.schedule.Observed(strconv.FormatInt(vendorID, 10))
}

// AllScheduleStats is ScheduleStats of every vendor that made a request,
// by user id in decimal.
func (s *Server) AllScheduleStats() map[string]sim.Observed { return s.schedule.AllObserved() }
