package hubspotsim

import (
	"net/http"
	"strconv"
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
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	s.faultMu.Lock()
	s.faults = append(s.faults, f)
	s.nfaults.Store(int64(len(s.faults)))
	s.faultMu.Unlock()
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	s.faults = nil
	s.nfaults.Store(0)
	s.faultMu.Unlock()
}

// serveFault answers the request with the first matching fault, if any.
func (s *Server) serveFault(w http.ResponseWriter, endpoint, portal string) bool {
	if s.nfaults.Load() == 0 {
		return false
	}
	s.faultMu.Lock()
	var f Fault
	found := false
	for i := range s.faults {
		q := &s.faults[i]
		if (q.Endpoint == "" || q.Endpoint == endpoint) && (q.Account == "" || q.Account == portal) {
			f, found = *q, true
			q.Times--
			if q.Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				s.nfaults.Store(int64(len(s.faults)))
			}
			break
		}
	}
	s.faultMu.Unlock()
	if !found {
		return false
	}
	s.stats.faults.Add(1)
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.Body != "":
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(f.Body)))
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
	case f.Status == http.StatusTooManyRequests:
		policy := f.Policy
		if policy == "" {
			policy = PolicyBurst
		}
		s.writeRateLimited(w, policy)
	default:
		s.writeError(w, f.Status, defaultCategory(f.Status), "injected fault: "+strconv.Itoa(f.Status)+" "+http.StatusText(f.Status))
	}
	return true
}
