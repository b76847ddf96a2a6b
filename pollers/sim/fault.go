package sim

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// Fault is a canned answer a simulator gives instead of the real one, to
// test how a client copes with failures. Every simulator takes it as its
// own Fault type.
type Fault struct {
	// Endpoint is the simulator's name of an endpoint, or "" for any.
	Endpoint string
	// Account restricts the fault to requests of one account (by its
	// key); "" for any.
	Account string
	// Status is the HTTP status; default 500. With 200 and a Body the body
	// is served as a success, e.g. truncated JSON.
	Status int
	// RetryAfter is the Retry-After header value; "" sends none.
	RetryAfter string
	// Body is the raw response body; when empty, the simulator's own error
	// body for Status.
	Body string
	// Times is how many requests the fault answers; default 1.
	Times int
	// Policy picks, without Body, one of several error bodies a provider
	// has for Status (HubSpot's policyName of a 429); "" is the
	// provider's default.
	Policy string
}

// Serve writes the fault's answer: the Retry-After header when there is
// one, then Body as is with contentType, or, without a Body, what
// writeError writes for the status (500 when Status is 0), since only the
// simulator knows its provider's error format.
func (f Fault) Serve(w http.ResponseWriter, contentType string, writeError func(status int)) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body == "" {
		writeError(status)
		return
	}
	WriteBody(w, status, contentType, []byte(f.Body))
}

// Matches reports whether a fault's filter value want admits a request's
// value got: the zero value admits anything.
func Matches[T comparable](want, got T) bool {
	var zero T
	return want == zero || want == got
}

// Faults is a first-in, first-out queue of injected faults of a
// simulator's fault type F. A request takes the first queued fault that
// matches it, and a fault leaves the queue once it has answered the number
// of requests it was added for. It is safe for concurrent use, and its
// zero value is an empty queue.
type Faults[F any] struct {
	mu    sync.Mutex
	queue []queued[F]
	n     atomic.Int64 // len(queue), so requests skip mu when there are none
}

type queued[F any] struct {
	fault F
	left  int
}

// Add queues f to answer times requests; fewer than 1 means 1.
func (q *Faults[F]) Add(f F, times int) {
	q.mu.Lock()
	q.queue = append(q.queue, queued[F]{fault: f, left: max(times, 1)})
	q.n.Store(int64(len(q.queue)))
	q.mu.Unlock()
}

// Clear drops every queued fault.
func (q *Faults[F]) Clear() {
	q.mu.Lock()
	q.queue = nil
	q.n.Store(0)
	q.mu.Unlock()
}

// Take returns the first queued fault that match accepts and counts the
// request against it. ok is false when no fault matches.
func (q *Faults[F]) Take(match func(F) bool) (f F, ok bool) {
	if q.n.Load() == 0 {
		return f, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.queue {
		e := &q.queue[i]
		if !match(e.fault) {
			continue
		}
		f = e.fault
		if e.left--; e.left == 0 {
			q.queue = append(q.queue[:i], q.queue[i+1:]...)
			q.n.Store(int64(len(q.queue)))
		}
		return f, true
	}
	return f, false
}

// WriteBody writes a body that is already encoded, with its Content-Type
// and Content-Length.
func WriteBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
