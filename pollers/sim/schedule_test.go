package sim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// errorBody is the test provider's error format.
func errorBody(w http.ResponseWriter, status int) {
	WriteBody(w, status, "application/json", []byte(`{"error":`+strconv.Itoa(status)+`}`))
}

// okBody is the test provider's normal answer: n bytes of JSON.
func okBody(n int) func(w http.ResponseWriter) {
	body := `{"data":"` + strings.Repeat("x", n-11) + `"}`
	return func(w http.ResponseWriter) { WriteBody(w, http.StatusOK, "application/json", []byte(body)) }
}

// record runs one request of account through s and returns the answer.
func record(s *Schedule, account string, c Chain) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.Handle(rec, httptest.NewRequest(http.MethodGet, "/", nil), account, c)
	return rec
}

func TestRuleMatches(t *testing.T) {
	for name, c := range map[string]struct {
		r    Rule
		want string // requests 1..10, x = in the burst
	}{
		"every request":           {Rule{Every: 1}, "xxxxxxxxxx"},
		"every third":             {Rule{Every: 3}, "..x..x..x."},
		"every third, burst 1":    {Rule{Every: 3, Burst: 1}, "..x..x..x."},
		"bursts of 2 in 5":        {Rule{Every: 5, Burst: 2}, "...xx...xx"},
		"burst as long as cycle":  {Rule{Every: 4, Burst: 4}, "xxxxxxxxxx"},
		"burst longer than cycle": {Rule{Every: 2, Burst: 9}, "xxxxxxxxxx"},
	} {
		got := ""
		for n := range int64(10) {
			if c.r.matches(n + 1) {
				got += "x"
			} else {
				got += "."
			}
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
}

func TestRuleCheck(t *testing.T) {
	good := []Rule{
		{Every: 1, Status: 503},
		{Every: 3, Status: 429, RetryAfter: "1"},
		{Every: 3, Status: 429, RetryAfter: "0.25"},
		{Every: 3, Status: 429, RetryAfter: "Fri, 01 Mar 2024 08:00:00 GMT"},
		{Every: 2, Delay: time.Second},
		{Every: 2, Reset: true},
		{Every: 2, Truncate: true, Status: 500},
	}
	for _, r := range good {
		if err := r.Check(); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	bad := []Rule{
		{Status: 503},
		{Every: -1, Status: 503},
		{Every: 1, Burst: -1, Status: 503},
		{Every: 1, Status: 200},
		{Every: 1, Status: 302},
		{Every: 1, Status: 600},
		{Every: 1, RetryAfter: "1", Delay: time.Second},
		{Every: 1, Status: 429, RetryAfter: "soon"},
		{Every: 1, Status: 429, RetryAfter: "-1"},
		{Every: 1, Delay: -time.Second},
		{Every: 1, Reset: true, Truncate: true},
		{Every: 1},
	}
	for _, r := range bad {
		if err := r.Check(); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
	if err := CheckRules(good[0], bad[0]); err == nil || !strings.HasPrefix(err.Error(), "rule 2: ") {
		t.Errorf("CheckRules: %v, want an error about rule 2", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Set accepted an invalid rule")
		}
	}()
	new(Schedule).Set(bad[0])
}

// TestScheduleStatus checks which requests the rules answer, with the
// provider's error body and Retry-After, counting every endpoint of an
// account together and each account apart.
func TestScheduleStatus(t *testing.T) {
	var s Schedule
	s.Set(Rule{Every: 2, Status: 500}, Rule{Every: 3, Status: 429, RetryAfter: "7"})
	c := Chain{Error: errorBody, Next: okBody(100)}
	var got []int
	for range 6 {
		rec := record(&s, "a", c)
		got = append(got, rec.Code)
		switch rec.Code {
		case http.StatusTooManyRequests:
			if rec.Header().Get("Retry-After") != "7" || rec.Body.String() != `{"error":429}` {
				t.Fatalf("429: Retry-After %q, body %s", rec.Header().Get("Retry-After"), rec.Body)
			}
		case http.StatusInternalServerError:
			if rec.Header().Get("Retry-After") != "" || rec.Body.String() != `{"error":500}` {
				t.Fatalf("500: Retry-After %q, body %s", rec.Header().Get("Retry-After"), rec.Body)
			}
		}
	}
	// Request 6 is in both bursts: the first rule answers it.
	if want := []int{200, 500, 429, 500, 200, 500}; !equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	// Account b is numbered on its own.
	if code := record(&s, "b", c).Code; code != 200 {
		t.Fatalf("b's first request: %d", code)
	}
	o := s.Observed("a")
	if o.Requests != 6 || o.Status[500] != 3 || o.Status[429] != 1 || len(o.Status) != 2 || o.Throttled != 1 || o.InFlight != 0 || o.MaxInFlight != 1 {
		t.Fatalf("a observed %+v", o)
	}
	if all := s.AllObserved(); len(all) != 2 || all["b"].Requests != 1 || len(all["b"].Status) != 0 {
		t.Fatalf("all observed %+v", all)
	}

	// Set numbers the requests from 1 again; Set() drops the rules.
	s.Set(Rule{Every: 2, Burst: 1, Status: 503})
	if a, b := record(&s, "a", c).Code, record(&s, "a", c).Code; a != 200 || b != 503 {
		t.Fatalf("after Set: %d %d, want 200 503", a, b)
	}
	s.Set()
	for range 4 {
		if code := record(&s, "a", c).Code; code != 200 {
			t.Fatalf("after Set(): %d", code)
		}
	}
	if o := s.Observed("a"); o.Requests != 12 || o.Status[503] != 1 {
		t.Fatalf("a observed %+v", o)
	}
	s.ResetObserved()
	if o := s.Observed("a"); o.Requests != 0 || len(o.Status) != 0 || o.MaxInFlight != 0 {
		t.Fatalf("after ResetObserved %+v", o)
	}
	if o := s.Observed("nobody"); o.Requests != 0 || o.Status == nil {
		t.Fatalf("unknown account %+v", o)
	}
}

// TestScheduleOneShotFaultFirst checks that a one-shot fault answers
// before the rules and still counts as one of the account's requests.
func TestScheduleOneShotFaultFirst(t *testing.T) {
	var s Schedule
	s.Set(Rule{Every: 2, Status: 503})
	var faults Faults[Fault]
	faults.Add(Fault{Status: 502}, 2)
	c := Chain{
		Fault: func(w http.ResponseWriter) bool {
			f, ok := faults.Take(func(Fault) bool { return true })
			if ok {
				f.Serve(w, "application/json", func(status int) { errorBody(w, status) })
			}
			return ok
		},
		Error: errorBody, Next: okBody(50),
	}
	var got []int
	for range 4 {
		got = append(got, record(&s, "a", c).Code)
	}
	if want := []int{502, 502, 200, 503}; !equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if o := s.Observed("a"); o.Requests != 4 || o.Status[503] != 1 {
		t.Fatalf("observed %+v", o)
	}
}

// TestScheduleEarly drives the schedule's clock by hand and checks which
// requests count as early: after a rule's 429 (seconds, fractional), a
// one-shot fault's (an HTTP date) and the rate limiter's, within
// EarlySlack or not, per account.
func TestScheduleEarly(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	clock := NewClock(t0)
	s := Schedule{Now: clock.Now}
	s.Set(Rule{Every: 3, Status: 429, RetryAfter: "1.5"})
	limited := false // the simulator's own limiter, when set
	var fault string // a one-shot 429's Retry-After, when set
	c := Chain{
		Fault: func(w http.ResponseWriter) bool {
			if fault == "" {
				return false
			}
			Fault{Status: 429, RetryAfter: fault}.Serve(w, "application/json", func(status int) { errorBody(w, status) })
			fault = ""
			return true
		},
		Error: errorBody,
		Next: func(w http.ResponseWriter) {
			if limited {
				w.Header().Set("Retry-After", "3")
				errorBody(w, 429)
				return
			}
			okBody(20)(w)
		},
	}
	step := func(at time.Duration, account string, wantCode int, wantEarly int64) {
		t.Helper()
		clock.Advance(t0.Add(at).Sub(clock.Now()))
		if code := record(&s, account, c).Code; code != wantCode {
			t.Fatalf("request at %v: %d, want %d", at, code, wantCode)
		}
		if o := s.Observed(account); o.Early != wantEarly {
			t.Fatalf("request at %v: %d early, want %d", at, o.Early, wantEarly)
		}
	}
	ms := time.Millisecond
	// A rule's 429s, in whole and fractional seconds.
	step(0, "a", 200, 0)
	step(0, "a", 200, 0)
	step(0, "a", 429, 0) // not before 1.5s
	step(0, "b", 200, 0) // b is another client
	step(1000*ms, "a", 200, 1)
	step(1490*ms, "a", 200, 1) // within the slack
	step(1500*ms, "a", 429, 1) // not before 3s
	step(2970*ms, "a", 200, 2)
	step(2980*ms, "a", 200, 2)
	s.Set()

	// A one-shot fault's Retry-After as an HTTP date.
	fault = t0.Add(10 * time.Second).Format(http.TimeFormat)
	step(3*time.Second, "a", 429, 2)
	step(5*time.Second, "a", 200, 3)
	step(9980*ms, "a", 200, 3)

	// The simulator's rate limiter: Retry-After 3 from 10.5s.
	limited = true
	step(10500*ms, "a", 429, 3)
	limited = false
	step(13*time.Second, "a", 200, 4)
	step(13480*ms, "a", 200, 4)

	// A 429 without Retry-After promises nothing.
	s.Set(Rule{Every: 1, Status: 429})
	step(15*time.Second, "a", 429, 4)
	step(15*time.Second, "a", 429, 4)
	if o := s.Observed("a"); o.Throttled != 4 || o.Status[429] != 4 || o.Requests != 16 {
		t.Fatalf("observed %+v", o)
	}
	if o := s.Observed("b"); o.Early != 0 || o.Requests != 1 {
		t.Fatalf("b observed %+v", o)
	}
}

// server serves every request through s as the account named by the
// X-Account header, and reports on done when the schedule is through
// with one.
type server struct {
	*httptest.Server
	done chan string
}

func newServer(t *testing.T, s *Schedule, c Chain) *server {
	srv := &server{done: make(chan string, 100)}
	srv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { srv.done <- r.Header.Get("X-Account") }()
		s.Handle(w, r, r.Header.Get("X-Account"), c)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (srv *server) get(ctx context.Context, account string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Account", account)
	return srv.Client().Do(req)
}

func (srv *server) wait(t *testing.T) {
	t.Helper()
	select {
	case <-srv.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the schedule never let go of a request")
	}
}

// TestScheduleCutsBodies checks what a client sees of a reset and a
// truncated answer: the headers with the full length, then an error.
func TestScheduleCutsBodies(t *testing.T) {
	const size = 64 << 10
	for name, c := range map[string]struct {
		rule   Rule
		status int
		isErr  func(error) bool
		count  func(Observed) int64
	}{
		"reset": {Rule{Every: 2, Reset: true}, 200, func(err error) bool {
			return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
		}, func(o Observed) int64 { return o.Reset }},
		"truncate": {Rule{Every: 2, Truncate: true}, 200, func(err error) bool {
			return errors.Is(err, io.ErrUnexpectedEOF)
		}, func(o Observed) int64 { return o.Truncated }},
		"truncated error": {Rule{Every: 2, Truncate: true, Status: 503, RetryAfter: "2"}, 503, func(err error) bool {
			return errors.Is(err, io.ErrUnexpectedEOF)
		}, func(o Observed) int64 { return o.Truncated }},
	} {
		t.Run(name, func(t *testing.T) {
			var s Schedule
			s.Set(c.rule)
			srv := newServer(t, &s, Chain{Error: func(w http.ResponseWriter, status int) {
				WriteBody(w, status, "application/json", []byte(`{"error":"`+strings.Repeat("e", size)+`"}`))
			}, Next: okBody(size)})
			for i := range 4 {
				resp, err := srv.get(context.Background(), "a")
				if err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				srv.wait(t)
				if i%2 == 0 {
					if err != nil || resp.StatusCode != 200 || len(body) != size {
						t.Fatalf("request %d: %d, %d bytes, %v", i+1, resp.StatusCode, len(body), err)
					}
					continue
				}
				t.Logf("request %d: %d bytes of %d, then %v", i+1, len(body), resp.ContentLength, err)
				if resp.StatusCode != c.status || resp.ContentLength < size || !c.isErr(err) || len(body) >= int(resp.ContentLength) {
					t.Fatalf("request %d: %d, Content-Length %d, %d bytes read, %v", i+1, resp.StatusCode, resp.ContentLength, len(body), err)
				}
			}
			if o := s.Observed("a"); c.count(o) != 2 || o.Requests != 4 || o.InFlight != 0 {
				t.Fatalf("observed %+v", o)
			}
		})
	}
}

// TestScheduleEmptyBodyIsNotCut checks that a rule cannot cut short a
// body that is not there: the answer goes out whole.
func TestScheduleEmptyBodyIsNotCut(t *testing.T) {
	var s Schedule
	s.Set(Rule{Every: 1, Truncate: true})
	srv := newServer(t, &s, Chain{Next: func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }})
	resp, err := srv.get(context.Background(), "a")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	srv.wait(t)
	if o := s.Observed("a"); o.Truncated != 0 {
		t.Fatalf("observed %+v", o)
	}
}

// TestScheduleDelay checks that a slow answer comes no sooner than its
// delay, and that a client that gives up frees the request at once.
func TestScheduleDelay(t *testing.T) {
	var s Schedule
	const delay = 50 * time.Millisecond
	s.Set(Rule{Every: 2, Delay: delay}, Rule{Every: 3, Delay: time.Hour, Status: 503})
	entered := make(chan struct{}, 10)
	srv := newServer(t, &s, Chain{
		Fault: func(http.ResponseWriter) bool { entered <- struct{}{}; return false },
		Error: errorBody, Next: okBody(30),
	})
	for i, want := range []time.Duration{0, delay} {
		start := time.Now()
		resp, err := srv.get(context.Background(), "a")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d: %v %v", i+1, resp, err)
		}
		resp.Body.Close()
		<-entered
		srv.wait(t)
		if took := time.Since(start); took < want {
			t.Fatalf("request %d answered after %v, want at least %v", i+1, took, want)
		}
	}

	// Request 3 waits an hour for its 503; its client goes away first.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		resp, err := srv.get(ctx, "a")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	srv.wait(t)
	if o := s.Observed("a"); o.Delayed != 2 || o.InFlight != 0 || o.Requests != 3 || len(o.Status) != 0 {
		t.Fatalf("observed %+v", o)
	}
}

// TestScheduleInFlight holds n requests of an account in the handler at
// once and checks the schedule counted exactly n, and not another
// account's.
func TestScheduleInFlight(t *testing.T) {
	const n = 5
	var s Schedule
	arrived := make(chan string, 2*n)
	release := make(chan struct{})
	srv := newServer(t, &s, Chain{Error: errorBody, Next: func(w http.ResponseWriter) {
		arrived <- ""
		<-release
		okBody(20)(w)
	}})
	var wg sync.WaitGroup
	for i := range n + 1 {
		account := "a"
		if i == n {
			account = "b"
		}
		wg.Go(func() {
			resp, err := srv.get(context.Background(), account)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	for range n + 1 {
		<-arrived
	}
	if o := s.Observed("a"); o.InFlight != n || o.MaxInFlight != n {
		t.Fatalf("with %d requests held: %+v", n, o)
	}
	close(release)
	wg.Wait()
	for range n + 1 {
		srv.wait(t)
	}
	if a, b := s.Observed("a"), s.Observed("b"); a.InFlight != 0 || a.MaxInFlight != n || a.Requests != n || b.MaxInFlight != 1 {
		t.Fatalf("after release: a %+v, b %+v", a, b)
	}
}

// TestScheduleInFlightEndsWithTheBody holds a handler back after it has
// written a large answer, which the client then has in full, and checks
// that the client's next request does not count as a second one in
// flight: the client did wait for the answer.
func TestScheduleInFlightEndsWithTheBody(t *testing.T) {
	var s Schedule
	hold := make(chan struct{})
	first := true
	srv := newServer(t, &s, Chain{Next: func(w http.ResponseWriter) {
		if !first {
			okBody(20)(w)
			return
		}
		first = false
		okBody(1 << 20)(w) // more than the server buffers: it goes out now
		<-hold
	}})
	// Cleanups run last first: the handler lets go before srv closes.
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	// One connection per request: the held one is still busy.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Account", "a")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		resp.Body.Close()
	}
	srv.wait(t) // the second request
	if o := s.Observed("a"); o.MaxInFlight != 1 || o.InFlight != 0 {
		t.Fatalf("with the first handler still running: %+v", o)
	}
	release()
	srv.wait(t)
	if o := s.Observed("a"); o.MaxInFlight != 1 || o.InFlight != 0 || o.Requests != 2 {
		t.Fatalf("observed %+v", o)
	}
}

// TestScheduleConcurrent checks the counters are exact however many
// requests come at once.
func TestScheduleConcurrent(t *testing.T) {
	var s Schedule
	s.Set(Rule{Every: 5, Burst: 2, Status: 503})
	c := Chain{Error: errorBody, Next: okBody(20)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 8 {
		wg.Go(func() {
			for range 50 {
				code := record(&s, "a", c).Code
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	o := s.Observed("a")
	if codes[503] != 160 || codes[200] != 240 || o.Requests != 400 || o.Status[503] != 160 || o.InFlight != 0 || o.MaxInFlight < 1 || o.MaxInFlight > 8 {
		t.Fatalf("codes %v, observed %+v", codes, o)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
