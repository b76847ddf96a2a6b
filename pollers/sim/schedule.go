package sim

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rule is a sustained fault: it answers every Every-th request of an
// account, and the Burst-1 requests before it, on every endpoint. Requests
// are numbered per account from 1, counting every endpoint, since the rules
// were last set: request n is in the rule's burst when (n-1) % Every >=
// Every-Burst. With Every 3 and Burst 1 that is requests 3, 6, 9, ...; with
// Every 5 and Burst 2, requests 4, 5, 9, 10, ...
//
// A rule does what its fields say, in this order: wait Delay, then answer
// with Status (or serve the request normally when Status is 0), then cut
// that answer short as Reset or Truncate say. An answer with an empty body
// cannot be cut short, so it goes out whole.
type Rule struct {
	// Every is the length of the rule's cycle, at least 1.
	Every int
	// Burst is how many requests in a row the rule answers at the end of
	// each cycle; 0 means 1, and more than Every means all of them.
	Burst int
	// Status, when not 0, answers with the provider's own error body for
	// this status (400 to 599) instead of serving the request.
	Status int
	// RetryAfter is the Retry-After header sent with Status: whole or
	// fractional seconds, or an HTTP date. "" sends none.
	RetryAfter string
	// Delay holds the answer back this long: a slow response. A client
	// that goes away meanwhile gets nothing.
	Delay time.Duration
	// Reset sends the headers, with the full Content-Length, and about half
	// of the body, then resets the TCP connection (SO_LINGER 0): the client
	// sees "connection reset by peer" or an unexpected EOF mid-body.
	Reset bool
	// Truncate sends the headers, with the full Content-Length, and about
	// half of the body, then closes the connection: the client sees
	// io.ErrUnexpectedEOF.
	Truncate bool
}

// Check reports what is wrong with the rule, if anything.
func (r Rule) Check() error {
	switch {
	case r.Every < 1:
		return fmt.Errorf("rule: every must be at least 1, got %d", r.Every)
	case r.Burst < 0:
		return fmt.Errorf("rule: burst must not be negative, got %d", r.Burst)
	case r.Status != 0 && (r.Status < 400 || r.Status > 599):
		return fmt.Errorf("rule: status must be 0 or an error status (400-599), got %d", r.Status)
	case r.RetryAfter != "" && r.Status == 0:
		return errors.New("rule: retry_after needs a status")
	case r.Delay < 0:
		return fmt.Errorf("rule: delay must not be negative, got %v", r.Delay)
	case r.Reset && r.Truncate:
		return errors.New("rule: reset and truncate exclude each other")
	case r.Status == 0 && r.Delay == 0 && !r.Reset && !r.Truncate:
		return errors.New("rule: does nothing (no status, delay, reset or truncate)")
	}
	if r.RetryAfter != "" {
		if _, ok := retryAt(r.RetryAfter, time.Now()); !ok {
			return fmt.Errorf("rule: retry_after %q is neither seconds nor an HTTP date", r.RetryAfter)
		}
	}
	return nil
}

// CheckRules returns the first rule's error, naming the rule's position.
func CheckRules(rules ...Rule) error {
	for i, r := range rules {
		if err := r.Check(); err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	return nil
}

// matches reports whether request n (from 1) of an account is in the
// rule's burst.
func (r Rule) matches(n int64) bool {
	every := int64(r.Every)
	burst := min(int64(max(r.Burst, 1)), every)
	return (n-1)%every >= every-burst
}

// EarlySlack is how much earlier than its Retry-After allowed a request
// may arrive without counting as early: clocks and timers are that coarse.
const EarlySlack = 20 * time.Millisecond

// Observed is what a Schedule saw of one account's client.
type Observed struct {
	// Requests counts the account's requests that entered the schedule.
	Requests int64
	// Status counts the requests a rule answered with its Status, by
	// status.
	Status map[int]int64
	// Delayed, Reset and Truncated count the requests a rule held back,
	// reset or cut short.
	Delayed, Reset, Truncated int64
	// InFlight is how many of the account's requests are in the schedule
	// now, and MaxInFlight the most there were at once: a request counts
	// from its arrival until the handler returns or, sooner, until the
	// last byte its Content-Length announces is handed to the connection,
	// or the connection is cut. A client waiting for each answer before
	// sending the next request then never counts twice, even when the
	// answer reaches it before the handler has returned.
	InFlight, MaxInFlight int
	// Throttled counts 429 answers with a Retry-After the client could
	// read, whoever answered them: a rule, a one-shot fault or the
	// simulator's rate limiter.
	Throttled int64
	// Early counts requests that arrived, by more than EarlySlack, before
	// the time the latest of those 429s allowed.
	Early int64
}

// Schedule answers an account's requests by rules (see Rule) and watches
// what the client does. A simulator runs every authenticated request
// through Handle. It is safe for concurrent use; its zero value has no
// rules and watches already.
type Schedule struct {
	// Now is the clock of Retry-After and arrivals, time.Now when nil. It
	// is the wall clock rather than a simulator's Config.Now because the
	// client waits in real time. Set it before the first request.
	Now func() time.Time

	mu       sync.Mutex
	rules    []Rule
	accounts map[string]*watch
}

// watch is one account's state in a Schedule.
type watch struct {
	n         int64 // requests since the rules were set
	obs       Observed
	notBefore time.Time // the latest time a 429 allowed
}

// Chain is what a simulator's endpoint does around the schedule, as
// Handle runs it.
type Chain struct {
	// Fault answers with the simulator's one-shot fault when one matches
	// the request, and reports whether it did; nil when there is none.
	// It comes before the rules, so a queued fault keeps its meaning of
	// "the next request".
	Fault func(w http.ResponseWriter) bool
	// Error writes the provider's own error body for status. Retry-After,
	// when the rule has one, is already in w's header. When nil, the
	// answer is plain text, which no provider sends.
	Error func(w http.ResponseWriter, status int)
	// Next serves the request as the schedule does not: the simulator's
	// rate limiter, then the handler.
	Next func(w http.ResponseWriter)
}

// Set replaces the rules; a request takes the first rule it is in the
// burst of. Every account's requests are numbered from 1 again, so a test
// knows which of its next requests fail. It panics on an invalid rule
// (see Check): that is a mistake in the test.
func (s *Schedule) Set(rules ...Rule) {
	if err := CheckRules(rules...); err != nil {
		panic("sim: Schedule.Set: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append([]Rule(nil), rules...)
	for _, a := range s.accounts {
		a.n = 0
	}
}

// Clear drops every rule; the schedule goes on watching.
func (s *Schedule) Clear() { s.Set() }

// Rules returns a copy of the rules.
func (s *Schedule) Rules() []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rule(nil), s.rules...)
}

// Observed returns what the schedule saw of the account.
func (s *Schedule) Observed(account string) Observed {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[account]; a != nil {
		return a.observed()
	}
	return Observed{Status: map[int]int64{}}
}

// AllObserved returns what the schedule saw of every account that made a
// request, by account.
func (s *Schedule) AllObserved() map[string]Observed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Observed, len(s.accounts))
	for k, a := range s.accounts {
		out[k] = a.observed()
	}
	return out
}

func (a *watch) observed() Observed {
	o := a.obs
	o.Status = maps.Clone(a.obs.Status)
	if o.Status == nil {
		o.Status = map[int]int64{}
	}
	return o
}

// ResetObserved sets every account's counters back to zero. Requests in
// flight stay counted, and a Retry-After already announced still holds.
func (s *Schedule) ResetObserved() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		a.obs = Observed{InFlight: a.obs.InFlight, MaxInFlight: a.obs.InFlight}
	}
}

func (s *Schedule) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handle runs one request of account through the schedule: c.Fault first,
// then the first rule the request is in the burst of, if any, and
// otherwise c.Next. Every answer goes through a ResponseWriter that
// notices 429s with Retry-After, so that the account's later requests can
// be checked against them. A rule that resets or truncates hijacks the
// connection; where that is impossible (HTTP/2) it aborts the response.
func (s *Schedule) Handle(w http.ResponseWriter, r *http.Request, account string, c Chain) {
	rule, ok := s.enter(account)
	ww := &watchWriter{ResponseWriter: w, s: s, account: account, length: -1}
	defer ww.leave()
	if c.Fault != nil && c.Fault(ww) {
		return
	}
	if !ok {
		c.Next(ww)
		return
	}
	if rule.Delay > 0 {
		s.count(account, func(o *Observed) { o.Delayed++ })
		t := time.NewTimer(rule.Delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	answer := c.Next
	if rule.Status != 0 {
		s.count(account, func(o *Observed) {
			if o.Status == nil {
				o.Status = map[int]int64{}
			}
			o.Status[rule.Status]++
		})
		answer = func(w http.ResponseWriter) {
			if rule.RetryAfter != "" {
				w.Header().Set("Retry-After", rule.RetryAfter)
			}
			if c.Error == nil {
				http.Error(w, http.StatusText(rule.Status), rule.Status)
				return
			}
			c.Error(w, rule.Status)
		}
	}
	if !rule.Reset && !rule.Truncate {
		answer(ww)
		return
	}
	buf := &bufferWriter{header: ww.Header()}
	answer(buf)
	if buf.body.Len() == 0 {
		// Nothing to cut short: an empty body is whole at any length.
		buf.copyTo(ww)
		return
	}
	if rule.Reset {
		s.count(account, func(o *Observed) { o.Reset++ })
	} else {
		s.count(account, func(o *Observed) { o.Truncated++ })
	}
	cut(ww, buf, rule.Reset)
}

// enter counts a request's arrival and picks its rule.
func (s *Schedule) enter(account string) (Rule, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accounts == nil {
		s.accounts = make(map[string]*watch)
	}
	a := s.accounts[account]
	if a == nil {
		a = &watch{}
		s.accounts[account] = a
	}
	a.n++
	a.obs.Requests++
	a.obs.InFlight++
	a.obs.MaxInFlight = max(a.obs.MaxInFlight, a.obs.InFlight)
	if !a.notBefore.IsZero() && now.Before(a.notBefore.Add(-EarlySlack)) {
		a.obs.Early++
	}
	for _, rule := range s.rules {
		if rule.matches(a.n) {
			return rule, true
		}
	}
	return Rule{}, false
}

// count updates an account that has entered the schedule.
func (s *Schedule) count(account string, f func(o *Observed)) {
	s.mu.Lock()
	f(&s.accounts[account].obs)
	s.mu.Unlock()
}

// throttled records a 429 written now with the Retry-After value v.
func (s *Schedule) throttled(account, v string) {
	at, ok := retryAt(v, s.now())
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[account]
	a.obs.Throttled++
	if at.After(a.notBefore) {
		a.notBefore = at
	}
}

// retryAt is the time a Retry-After value v, received at now, allows a
// request again: v is whole or fractional seconds, or an HTTP date.
func retryAt(v string, now time.Time) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) || secs > math.MaxInt64/float64(time.Second) {
			return time.Time{}, false
		}
		return now.Add(time.Duration(secs * float64(time.Second))), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// watchWriter passes an answer through, tells the schedule about a 429
// with Retry-After as its header is written, and takes the request out of
// flight before the client can have all of the answer. Unwrap lets
// http.ResponseController reach the connection beneath.
type watchWriter struct {
	http.ResponseWriter
	s       *Schedule
	account string
	wrote   bool
	left    bool
	length  int64 // the Content-Length sent; -1 when none
	written int64
}

// leave takes the request out of flight, once.
func (w *watchWriter) leave() {
	if !w.left {
		w.left = true
		w.s.count(w.account, func(o *Observed) { o.InFlight-- })
	}
}

func (w *watchWriter) WriteHeader(status int) {
	if !w.wrote && status >= 200 {
		w.wrote = true
		if n, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); err == nil {
			w.length = n
		}
		// Before the header goes out, so that the client cannot be
		// quicker than the time it is told to wait from.
		if status == http.StatusTooManyRequests {
			w.s.throttled(w.account, w.Header().Get("Retry-After"))
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *watchWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	// A large body reaches the connection as it is written, so the client
	// may read all of it and send its next request while the handler is
	// still returning: the request leaves before its last byte goes.
	if w.written += int64(len(b)); w.length >= 0 && w.written >= w.length {
		w.leave()
	}
	return w.ResponseWriter.Write(b)
}

func (w *watchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bufferWriter holds a whole answer back, since cutting a body short needs
// its length first. The header is the real response's.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(status int) {
	if b.status == 0 && status >= 200 {
		b.status = status
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferWriter) statusOrOK() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

func (b *bufferWriter) copyTo(w http.ResponseWriter) {
	w.WriteHeader(b.statusOrOK())
	_, _ = w.Write(b.body.Bytes())
}

// cut writes the buffered answer's header, with the full Content-Length,
// and half its body, then drops the connection: with reset, by an RST
// (SO_LINGER 0) rather than a close.
func cut(w *watchWriter, b *bufferWriter, reset bool) {
	body := b.body.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(b.statusOrOK())
	_, _ = w.Write(body[:len(body)/2])
	rc := http.NewResponseController(w)
	// What Write buffered must reach the connection before the hijack,
	// which would drop it.
	if err := rc.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if reset {
		if tc, ok := tcpConn(conn); ok {
			_ = tc.SetLinger(0)
		}
	}
	// The client retries once it sees the connection go.
	w.leave()
	_ = conn.Close()
}

// tcpConn finds the TCP connection beneath c, through TLS.
func tcpConn(c net.Conn) (*net.TCPConn, bool) {
	for {
		switch t := c.(type) {
		case *net.TCPConn:
			return t, true
		case interface{ NetConn() net.Conn }:
			c = t.NetConn()
		default:
			return nil, false
		}
	}
}
