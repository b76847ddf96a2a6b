package sim

import (
	"bytes"
	"cmp"
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

// Rule is a sustained fault of every Every-th request of an account, and the Burst-1 before it:
// request n (from 1) is in the burst when (n-1) % Every >= Every-Burst. It waits Delay, answers
// Status (0: serves the request) and cuts the answer as Reset or Truncate say.
type Rule struct {
	Every int // the cycle, at least 1
	// Burst is how many requests in a row it answers (0: 1).
	Burst int
	// Status (400-599) answers the provider's error body, with RetryAfter (seconds or a date).
	Status     int
	RetryAfter string
	// Delay holds the answer back; a client that goes away gets nothing.
	Delay time.Duration
	// Reset and Truncate send the headers and half the body, then reset the TCP connection
	// (SO_LINGER 0) or close it.
	Reset, Truncate bool
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

// matches reports whether request n (from 1) is in the rule's burst.
func (r Rule) matches(n int64) bool {
	every := int64(r.Every)
	burst := min(int64(max(r.Burst, 1)), every)
	return (n-1)%every >= every-burst
}

// EarlySlack is how early a request may come without counting as Early: clocks and timers are that coarse.
const EarlySlack = 20 * time.Millisecond

// Observed is what a Schedule saw of one account's client.
type Observed struct {
	Requests int64
	// Status, Delayed, Reset and Truncated count what rules did.
	Status                    map[int]int64
	Delayed, Reset, Truncated int64
	// InFlight counts requests until the handler returns or their last byte goes, so a client that
	// waits for each answer never counts twice; MaxInFlight is the most.
	InFlight, MaxInFlight int
	// Throttled counts 429s with Retry-After, Early the requests before one allowed.
	Throttled, Early int64
}

// Schedule answers requests by rules and watches what clients do; the zero value watches already.
type Schedule struct {
	// Now (default time.Now) times Retry-After and arrivals on the wall clock, where the client waits.
	Now func() time.Time

	mu       sync.Mutex
	rules    []Rule
	accounts map[string]*watch
}

type watch struct {
	n         int64 // requests since the rules were set
	obs       Observed
	notBefore time.Time // the latest time a 429 allowed
}

// Chain is what a simulator's endpoint does around the schedule.
type Chain struct {
	// Fault answers a one-shot fault, if one matches, before the rules: it means "the next request".
	Fault func(w http.ResponseWriter) bool
	// Error writes the provider's error body for the Status of a rule, which then needs one.
	Error func(w http.ResponseWriter, status int)
	// Next is the rate limiter, then the handler.
	Next func(w http.ResponseWriter)
}

// Set replaces the rules, numbering requests from 1 again; it panics on an invalid rule.
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

// Observed returns what the schedule saw of the account.
func (s *Schedule) Observed(account string) Observed {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[account]; a != nil {
		return a.observed()
	}
	return Observed{Status: map[int]int64{}}
}

// AllObserved returns what the schedule saw of every account that made a request, by account.
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

// ResetObserved zeroes the counters but for requests in flight.
func (s *Schedule) ResetObserved() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		a.obs = Observed{InFlight: a.obs.InFlight, MaxInFlight: a.obs.InFlight}
	}
}

func (s *Schedule) now() time.Time { return Now(s.Now)() }

// Handle runs a request through c.Fault, its rule or c.Next; Reset and Truncate hijack the
// connection, or abort the response under HTTP/2.
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
			Fault{Status: rule.Status, RetryAfter: rule.RetryAfter}.Serve(w, "", func(status int) { c.Error(w, status) })
		}
	}
	if !rule.Reset && !rule.Truncate {
		answer(ww)
		return
	}
	buf := &bufferWriter{header: ww.Header()}
	answer(buf)
	if buf.body.Len() == 0 { // an empty body is whole at any length
		ww.WriteHeader(cmp.Or(buf.status, http.StatusOK))
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

func (s *Schedule) count(account string, f func(o *Observed)) {
	s.mu.Lock()
	f(&s.accounts[account].obs)
	s.mu.Unlock()
}

// throttled records a 429 written now with Retry-After v.
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

// retryAt is when a Retry-After v received at now allows a request again.
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

// watchWriter notes 429s and takes the request out of flight before the client can have all of the answer.
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
		// Before the header goes out, which the client waits from.
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
	// The client may have all of it and send again before we return.
	if w.written += int64(len(b)); w.length >= 0 && w.written >= w.length {
		w.leave()
	}
	return w.ResponseWriter.Write(b)
}

func (w *watchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bufferWriter holds an answer back: cutting a body short needs its length.
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
	b.status = cmp.Or(b.status, http.StatusOK)
	return b.body.Write(p)
}

// cut writes the header and half the body, then drops the connection: by an RST when reset.
func cut(w *watchWriter, b *bufferWriter, reset bool) {
	body := b.body.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(cmp.Or(b.status, http.StatusOK))
	_, _ = w.Write(body[:len(body)/2])
	rc := http.NewResponseController(w)
	// What Write buffered must reach the connection before the hijack.
	var conn net.Conn
	err := rc.Flush()
	if err == nil {
		conn, _, err = rc.Hijack()
	}
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
