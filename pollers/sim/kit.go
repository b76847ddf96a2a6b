package sim

import (
	"cmp"
	"context"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/events"
)

// Simulator is what pollerstest and providersim drive: the provider's Inbox, its Kit's Controls.
type Simulator interface {
	http.Handler
	Inbox
	Controls
}

// Inbox is a simulator's inbox in common terms, accounts named by their key.
type Inbox interface {
	// Register adds the account and a credential, and returns the options a poller needs.
	Register(account, token string) (options map[string]string)
	// Open starts a thread in which the other side writes text first.
	Open(account, text string) (threadID string)
	// Write adds a message by the other side (events.Inbound) or the owner.
	Write(account, threadID string, d events.Direction, text string) (messageID string)
	// Fill seeds threads of perThread messages, as Seed lays them out, ending now.
	Fill(account string, threads, perThread int)
	// Truth is the account's inbox as the poller should read it.
	Truth(account string) []Thread
	// Traffic keeps the inbox moving until ctx is done (see Run).
	Traffic(ctx context.Context, account string, perSecond float64, rnd *rand.Rand) error
}

// Controls are what tests and providersim do to any simulator.
type Controls interface {
	InjectFault(f Fault)
	ClearFaults()
	SetSchedule(rules ...Rule)
	ScheduleStats(account string) Observed
	AllScheduleStats() map[string]Observed
	ResetStats()
	Requests() (list, messages int64)
	Endpoints() []string
	ListEndpoint() string
	Report() any
}

var _ Controls = (*Kit)(nil)

// Thread is a thread of the ground truth; Closed (HubSpot's CLOSED, now) ends an episode.
type Thread struct {
	ID       string
	Messages []Message // oldest first
	Closed   bool
}

// Message is a message of the ground truth, At as precise as the API writes it.
type Message struct {
	ID        string
	Direction events.Direction
	At        time.Time
}

// Direction is events.Inbound, or events.Outbound when outbound.
func Direction(outbound bool) events.Direction { return If(outbound, events.Outbound, events.Inbound) }

// By is in for an inbound message and out for an outbound one.
func By[S any](d events.Direction, in, out S) S { return If(d == events.Outbound, out, in) }

// Open is Inbox.Open for a thread that starts empty: in writes text in it.
func Open(in Inbox, account, threadID, text string) string {
	in.Write(account, threadID, events.Inbound, text)
	return threadID
}

// Truth turns a provider's ground truth into the suite's.
func Truth[T, M any](threads []T, thread func(T) (id string, closed bool, msgs []M), message func(M) (id, dir string, at time.Time)) []Thread {
	var out []Thread
	for _, t := range threads {
		id, closed, msgs := thread(t)
		out = append(out, Thread{ID: id, Closed: closed, Messages: Map(msgs, func(m M) Message {
			id, dir, at := message(m)
			return Message{ID: id, Direction: events.Direction(dir), At: at}
		})})
	}
	return out
}

// Name is the name of an enum's i-th value: zero is invalid, so a forgotten argument shows.
func Name(typ string, i int, names ...string) string {
	if i > 0 && i < len(names) && names[i] != "" {
		return names[i]
	}
	return typ + "(" + strconv.Itoa(i) + ")"
}

// Counters every Kit keeps: refusals before the chain, the rate limiter's 429s, faults.
const (
	Unauthorized = "unauthorized"
	RateLimited  = "rate_limited"
	Faulted      = "faults"
)

// API describes a provider's API to its Kit.
type API struct {
	// Endpoints are named as Fault.Endpoint names them; Requests counts List and Messages.
	Endpoints, Messages []string
	List                string
	// Counters name the int64 fields of the provider's Stats in order (see Counts): endpoints,
	// the Kit's own and the provider's, which it adds to with Add.
	Counters    []string
	ContentType string // of fault bodies; default "application/json"
	// Error writes the error body of status, of an injected fault's Policy or of a rule ("").
	Error    func(w http.ResponseWriter, status int, policy string)
	NotFound http.HandlerFunc
	Stats    func() any // the provider's Stats, for Report
}

// Kit is what a simulator's Server embeds from the kit: routes, request chain, counters and Controls.
type Kit struct {
	// OnTraffic runs after each event of live traffic: tests wait on it.
	OnTraffic func()

	api      API
	mux      *http.ServeMux
	counts   map[string]*atomic.Int64 // fixed at NewKit, so reads need no lock
	faults   Faults[Fault]
	schedule Schedule
}

// NewKit returns the kit of a provider's API.
func NewKit(api API) *Kit {
	api.ContentType = cmp.Or(api.ContentType, "application/json")
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

// Count returns a counter (an endpoint, one of API.Counters or the Kit's own); 0 for an unknown name.
func (k *Kit) Count(name string) int64 {
	if c := k.counts[name]; c != nil {
		return c.Load()
	}
	return 0
}

// Add adds n to a counter; it panics on a name the API does not declare.
func (k *Kit) Add(name string, n int64) { k.counts[name].Add(n) }

// Report is the provider's Stats, as a value to encode.
func (k *Kit) Report() any { return k.api.Stats() }

// Requests counts the requests to the thread list and the messages.
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

// InjectFault queues a fault for authenticated requests; see Faults.
func (k *Kit) InjectFault(f Fault) { k.faults.Add(f, f.Times) }

// ClearFaults drops every queued fault.
func (k *Kit) ClearFaults() { k.faults.Clear() }

// SetSchedule replaces the sustained faults (see Schedule.Set).
func (k *Kit) SetSchedule(rules ...Rule) { k.schedule.Set(rules...) }

// ScheduleStats is what the server saw of an account's client.
func (k *Kit) ScheduleStats(account string) Observed { return k.schedule.Observed(account) }

// AllScheduleStats is ScheduleStats of every account that made a request, by account.
func (k *Kit) AllScheduleStats() map[string]Observed { return k.schedule.AllObserved() }

// Endpoint is the handler of endpoint: auth finds the credential or refuses, then the chain
// runs the request: count, fault, schedule, limit (if not nil), h.
func Endpoint[A any](k *Kit, endpoint string, auth func(w http.ResponseWriter, r *http.Request) *Cred[A], limit func(w http.ResponseWriter, c *Cred[A]) bool, h func(w http.ResponseWriter, r *http.Request, a A)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := auth(w, r)
		if c == nil {
			k.Add(Unauthorized, 1)
			return
		}
		k.Add(endpoint, 1)
		k.schedule.Handle(w, r, c.Key, Chain{
			Fault: func(w http.ResponseWriter) bool {
				f, ok := k.faults.Take(func(f Fault) bool { return Matches(f.Endpoint, endpoint) && Matches(f.Account, c.Key) })
				if ok {
					k.Add(Faulted, 1)
					f.Serve(w, k.api.ContentType, func(status int) { k.api.Error(w, status, f.Policy) })
				}
				return ok
			},
			Error: func(w http.ResponseWriter, status int) { k.api.Error(w, status, "") },
			Next: func(w http.ResponseWriter) {
				if limit == nil || limit(w, c) {
					h(w, r, c.Account)
				}
			},
		})
	})
}

// Throttle is the usual rate limit: it counts refusals and lets refuse write the 429.
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

// Fault is a canned answer instead of the real one, for Endpoint and Account ("": any).
type Fault struct {
	Endpoint, Account string
	// Status is the HTTP status (default 500); with 200 a Body is a success, e.g. truncated JSON.
	Status     int
	RetryAfter string // "" sends none
	Body       string // "": the provider's error body for Status
	Times      int    // how many requests it answers; default 1
	// Policy picks one of a provider's error bodies for Status (HubSpot's policyName of a 429).
	Policy string
}

// Serve writes the fault's answer: Body with contentType, or writeError's.
func (f Fault) Serve(w http.ResponseWriter, contentType string, writeError func(status int)) {
	status := cmp.Or(f.Status, http.StatusInternalServerError)
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body == "" {
		writeError(status)
		return
	}
	WriteBody(w, status, contentType, []byte(f.Body))
}

// Matches reports whether a filter value want admits got: zero admits all.
func Matches[T comparable](want, got T) bool {
	var zero T
	return want == zero || want == got
}

// Faults is a first-in, first-out queue of faults, each taken by requests that match.
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

// Take returns the first fault match accepts, counting the request.
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

// If is a when cond, else b; both are evaluated.
func If[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}

// Counts sets the int64 fields of the struct st points to, in order, to the
// counters API.Counters names: a provider's Stats.
func (k *Kit) Counts(st any) {
	names := k.api.Counters
	v := reflect.ValueOf(st).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Int64 {
			f.SetInt(k.Count(names[0]))
			names = names[1:]
		}
	}
	if len(names) > 0 {
		panic("sim: Counts: more counters than fields")
	}
}
