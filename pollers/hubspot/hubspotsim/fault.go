package hubspotsim

import (
	"net/http"
	"strconv"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Fault is a canned answer the server gives instead of the real one, to test
// how a client copes with failures.
type Fault struct {
	// Endpoint is EndpointThreads, EndpointMessages,
	// EndpointOriginalContent, or "" for any of them.
	Endpoint string
	// Account restricts the fault to requests of one account; "" for any.
	Account string
	// Status is the HTTP status; default 500. With 200 and a Body the body
	// is served as a success, e.g. truncated JSON.
	Status int
	// RetryAfter is the Retry-After header value; "" sends none.
	RetryAfter string
	// Policy is the policyName of a 429 without Body: PolicyBurst (the
	// default) or PolicyDaily.
	Policy string
	// Body is the raw response body; when empty, HubSpot's JSON error body
	// for the status (the rate-limit body for 429).
	Body string
	// Times is how many requests the fault answers; default 1.
	Times int
}

// InjectFault queues a fault. Authenticated requests take the first queued
// fault that matches their endpoint and account (first in, first out); a
// fault is dropped once it has answered Times requests. Unauthenticated
// requests get their 401 and leave the queue alone.
func (s *Server) InjectFault(f Fault) { s.faults.Add(f, f.Times) }

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// serveFault answers the request with the first matching fault, if any.
func (s *Server) serveFault(w http.ResponseWriter, endpoint, portal string) bool {
	f, ok := s.faults.Take(func(f Fault) bool { return sim.Matches(f.Endpoint, endpoint) && sim.Matches(f.Account, portal) })
	if !ok {
		return false
	}
	s.stats.faults.Add(1)
	canned := sim.Fault{Status: f.Status, RetryAfter: f.RetryAfter, Body: f.Body}
	canned.Serve(w, "application/json;charset=utf-8", func(status int) { s.faultError(w, status, f.Policy) })
	return true
}

// faultError is HubSpot's body for an injected fault or a scheduled one:
// the rate-limit body with policyName policy (default PolicyBurst) for
// 429, the error body of the status's category otherwise.
func (s *Server) faultError(w http.ResponseWriter, status int, policy string) {
	if status != http.StatusTooManyRequests {
		s.writeError(w, status, defaultCategory(status), "injected fault: "+strconv.Itoa(status)+" "+http.StatusText(status))
		return
	}
	if policy == "" {
		policy = PolicyBurst
	}
	s.writeRateLimited(w, policy)
}

// scheduledError is faultError for a sustained fault, whose 429s are the
// burst window's.
func (s *Server) scheduledError(w http.ResponseWriter, status int) {
	s.faultError(w, status, PolicyBurst)
}

// SetSchedule replaces the sustained faults (see sim.Rule) with rules,
// applied to every endpoint, each account's requests counted apart and
// numbered from 1 again; no rules clears them. Status faults answer with
// the same HubSpot bodies as injected faults, a 429 with policyName
// TEN_SECONDLY_ROLLING. It panics on an invalid rule.
func (s *Server) SetSchedule(rules ...sim.Rule) { s.schedule.Set(rules...) }

// ClearSchedule drops every sustained fault.
func (s *Server) ClearSchedule() { s.schedule.Clear() }

// ScheduleStats is what the server saw of an account's client (by portal)
// since New or the last ResetStats: requests, scheduled faults, the most
// requests at once, requests sooner than a 429's Retry-After.
func (s *Server) ScheduleStats(portal string) sim.Observed { return s.schedule.Observed(portal) }

// AllScheduleStats is ScheduleStats of every account that made a request,
// by portal.
func (s *Server) AllScheduleStats() map[string]sim.Observed { return s.schedule.AllObserved() }
