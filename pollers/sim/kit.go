package sim

import (
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// Names of the counters every Kit keeps beside one per endpoint.
const (
	// Unauthorized counts requests refused before the chain (401, 403).
	Unauthorized = "unauthorized"
	// RateLimited counts the rate limiter's 429s (not injected ones).
	RateLimited = "rate_limited"
	// Faulted counts requests answered by an injected fault.
	Faulted = "faults"
)

// API describes a provider's API to its Kit.
type API struct {
	// Endpoints are the names of the provider's endpoints, as
	// Fault.Endpoint, its Stats and the admin API of providersim say them.
	Endpoints []string
	// List is the endpoint of the thread list, and Messages those that
	// fetch a thread's messages: Requests counts them.
	List     string
	Messages []string
	// Counters are the provider's own counters (items listed, header
	// errors, ...), which it adds to with Kit.Add.
	Counters []string
	// ContentType is the Content-Type of fault bodies; default
	// "application/json".
	ContentType string
	// Error writes the provider's error body for status, for an injected
	// fault without Body (policy is its Policy) and for a sustained one
	// (policy ""). Retry-After, when there is one, is already in w's
	// header.
	Error func(w http.ResponseWriter, status int, policy string)
	// NotFound answers requests no route matches.
	NotFound http.HandlerFunc
	// Stats returns the provider's Stats, which Report hands out.
	Stats func() any
}

// Kit is the half of a simulator that is the same for every provider: the
// chain every authenticated request runs through (the endpoint's call
// counter, one-shot faults, sustained faults, the rate limit, then the
// handler), the counters behind a provider's Stats, the routes, and the
// controls tests and providersim use (InjectFault, SetSchedule,
// ScheduleStats, ResetStats). A provider's Server embeds *Kit; what it
// adds is its wire format and its API's quirks.
type Kit struct {
	// OnTraffic, when set before Traffic starts, runs after each event of
	// live traffic: tests wait on it instead of sleeping.
	OnTraffic func()

	api      API
	mux      *http.ServeMux
	counts   map[string]*atomic.Int64 // fixed at NewKit, so reads need no lock
	faults   Faults[Fault]
	schedule Schedule
}

// NewKit returns the kit of a provider's API.
func NewKit(api API) *Kit {
	if api.ContentType == "" {
		api.ContentType = "application/json"
	}
	k := &Kit{api: api, mux: http.NewServeMux(), counts: map[string]*atomic.Int64{}}
	for _, name := range slices.Concat(api.Endpoints, api.Counters, []string{Unauthorized, RateLimited, Faulted}) {
		k.counts[name] = new(atomic.Int64)
	}
	if api.NotFound != nil {
		k.mux.HandleFunc("/", api.NotFound)
	}
	return k
}

// ServeHTTP serves the API relative to the handler's root.
func (k *Kit) ServeHTTP(w http.ResponseWriter, r *http.Request) { k.mux.ServeHTTP(w, r) }

// Handle serves pattern (see http.ServeMux) with h.
func (k *Kit) Handle(pattern string, h http.Handler) { k.mux.Handle(pattern, h) }

// Endpoints are the names of the API's endpoints.
func (k *Kit) Endpoints() []string { return slices.Clone(k.api.Endpoints) }

// ListEndpoint is the endpoint of the thread list.
func (k *Kit) ListEndpoint() string { return k.api.List }

// Count returns a counter (an endpoint, a name of API.Counters, or
// Unauthorized, RateLimited, Faulted); 0 for an unknown name.
func (k *Kit) Count(name string) int64 {
	if c := k.counts[name]; c != nil {
		return c.Load()
	}
	return 0
}

// Add adds n to a counter. It panics on a name the API does not declare:
// that is a mistake in the simulator.
func (k *Kit) Add(name string, n int64) { k.counts[name].Add(n) }

// Report is the provider's Stats, as a value to encode.
func (k *Kit) Report() any { return k.api.Stats() }

// Requests counts the requests to the thread list and to the message
// endpoints.
func (k *Kit) Requests() (list, messages int64) {
	for _, e := range k.api.Messages {
		messages += k.Count(e)
	}
	return k.Count(k.api.List), messages
}

// ResetStats sets every counter back to zero, ScheduleStats' included.
func (k *Kit) ResetStats() {
	for _, c := range k.counts {
		c.Store(0)
	}
	k.schedule.ResetObserved()
}

// InjectFault queues a fault. Authenticated requests take the first queued
// fault that matches their endpoint and account (first in, first out); a
// fault is dropped once it has answered Times requests. Requests refused
// before authentication leave the queue alone.
func (k *Kit) InjectFault(f Fault) { k.faults.Add(f, f.Times) }

// ClearFaults drops every queued fault.
func (k *Kit) ClearFaults() { k.faults.Clear() }

// SetSchedule replaces the sustained faults (see Rule) with rules, applied
// to every endpoint, each account's requests counted apart and numbered
// from 1 again; no rules clears them. Status faults answer with the same
// error body as injected faults. It panics on an invalid rule.
func (k *Kit) SetSchedule(rules ...Rule) { k.schedule.Set(rules...) }

// ClearSchedule drops every sustained fault.
func (k *Kit) ClearSchedule() { k.schedule.Clear() }

// ScheduleStats is what the server saw of an account's client since it
// was made or last ResetStats: requests, scheduled faults, the most
// requests at once, requests sooner than a 429's Retry-After.
func (k *Kit) ScheduleStats(account string) Observed { return k.schedule.Observed(account) }

// AllScheduleStats is ScheduleStats of every account that made a request,
// by account.
func (k *Kit) AllScheduleStats() map[string]Observed { return k.schedule.AllObserved() }

// Serve runs an authenticated request of account to endpoint through the
// chain: the endpoint's counter, then the first queued fault that matches,
// the sustained faults, limit (when not nil: false means it answered, a
// 429) and h.
func (k *Kit) Serve(w http.ResponseWriter, r *http.Request, endpoint, account string, limit func(w http.ResponseWriter) bool, h func(w http.ResponseWriter)) {
	k.Add(endpoint, 1)
	k.schedule.Handle(w, r, account, Chain{
		Fault: func(w http.ResponseWriter) bool {
			f, ok := k.faults.Take(func(f Fault) bool { return Matches(f.Endpoint, endpoint) && Matches(f.Account, account) })
			if ok {
				k.Add(Faulted, 1)
				f.Serve(w, k.api.ContentType, func(status int) { k.api.Error(w, status, f.Policy) })
			}
			return ok
		},
		Error: func(w http.ResponseWriter, status int) { k.api.Error(w, status, "") },
		Next: func(w http.ResponseWriter) {
			if limit == nil || limit(w) {
				h(w)
			}
		},
	})
}

// Endpoint is the handler of endpoint: auth finds the request's credential
// or answers the refusal itself (and the request counts as Unauthorized),
// then the request goes through Serve, with limit when not nil, to h.
func Endpoint[A any](k *Kit, endpoint string, auth func(w http.ResponseWriter, r *http.Request) *Cred[A], limit func(w http.ResponseWriter, c *Cred[A]) bool, h func(w http.ResponseWriter, r *http.Request, a A)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := auth(w, r)
		if c == nil {
			k.Add(Unauthorized, 1)
			return
		}
		var lim func(http.ResponseWriter) bool
		if limit != nil {
			lim = func(w http.ResponseWriter) bool { return limit(w, c) }
		}
		k.Serve(w, r, endpoint, c.Key, lim, func(w http.ResponseWriter) { h(w, r, c.Account) })
	})
}

// Throttle is the usual rate limit: it takes a request's place from l at
// now and, when there is none, counts the request as RateLimited, sets
// Retry-After (when retryAfter) and calls refuse to write the provider's
// 429 body. A nil l lets every request pass.
func (k *Kit) Throttle(w http.ResponseWriter, l Limiter, now time.Time, retryAfter bool, refuse func(w http.ResponseWriter, secs int)) bool {
	if l == nil {
		return true
	}
	_, wait, ok := l.Take(now)
	if !ok {
		k.Add(RateLimited, 1)
		secs := RetrySeconds(wait)
		if retryAfter {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		refuse(w, secs)
	}
	return ok
}
