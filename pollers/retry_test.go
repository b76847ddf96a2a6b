package pollers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// script serves the answers in order, then 200 {"ok":true}, and records
// when each request arrived.
type script struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	arrived []time.Time
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.arrived = append(s.arrived, time.Now())
	var a func(w http.ResponseWriter)
	if len(s.answers) > 0 {
		a, s.answers = s.answers[0], s.answers[1:]
	}
	s.mu.Unlock()
	if a == nil {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
		return
	}
	a(w)
}

func (s *script) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrived...)
}

func status(code int, retryAfter string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
		io.WriteString(w, `{"error":"`+strconv.Itoa(code)+`"}`)
	}
}

// cut promises a body longer than it sends, then drops the connection.
func cut(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "100")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"ok":`)
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

type hintFunc func(e *HTTPError) time.Duration

func (f hintFunc) RetryAfter(e *HTTPError) time.Duration { return f(e) }

func testTransport(t *testing.T, answers ...func(w http.ResponseWriter)) (*http.Client, *accountTransport, *script, string) {
	t.Helper()
	s := &script{answers: answers}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	pol := RetryPolicy{Attempts: 4, MinWait: 5 * time.Millisecond, MaxWait: 20 * time.Millisecond, MaxInPlace: 3 * time.Second}
	pol.setDefaults()
	tr := &accountTransport{next: http.DefaultTransport, pacer: newPacer(1000), policy: pol, timeout: 2 * time.Second, count: new(atomic.Int64)}
	return &http.Client{Transport: tr}, tr, s, srv.URL
}

func get(t *testing.T, c *http.Client, ctx context.Context, url string) (int, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	var out struct {
		OK bool `json:"ok"`
	}
	err := GetJSON(c, req, &out)
	if he, ok := err.(*HTTPError); ok {
		return he.Status, err
	}
	if err == nil && !out.OK {
		t.Fatal("decoded nothing")
	}
	return 200, err
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	c, tr, s, url := testTransport(t, status(429, "1"))
	if code, err := get(t, c, context.Background(), url); code != 200 || err != nil {
		t.Fatalf("429 then 200: %d %v", code, err)
	}
	at := s.times()
	if len(at) != 2 || at[1].Sub(at[0]) < time.Second {
		t.Fatalf("%d requests, the retry %s after the 429; want 2, at least 1s apart", len(at), at[len(at)-1].Sub(at[0]))
	}
	if tr.pacer.lim.Limit() >= 1000 {
		t.Fatalf("rate after a 429 is still %v", tr.pacer.lim.Limit())
	}
}

func TestRetryHealsWhatMayHeal(t *testing.T) {
	t.Parallel()
	for name, answers := range map[string][]func(http.ResponseWriter){
		"5xx burst":     {status(503, ""), status(502, ""), status(500, "")},
		"408":           {status(408, "")},
		"cut body":      {cut, cut},
		"503 stated":    {status(503, "0")},
		"429 no stated": {status(429, "")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, tr, s, url := testTransport(t, answers...)
			if code, err := get(t, c, context.Background(), url); code != 200 || err != nil {
				t.Fatalf("%d %v", code, err)
			}
			if n := len(s.times()); n != len(answers)+1 || tr.count.Load() != int64(n) {
				t.Fatalf("%d requests (%d counted), want %d", n, tr.count.Load(), len(answers)+1)
			}
		})
	}
}

func TestRetryNeverRetriesAnswers(t *testing.T) {
	t.Parallel()
	for _, code := range []int{400, 401, 403, 404, 410, 422, 501} {
		c, _, s, url := testTransport(t, status(code, ""))
		if got, err := get(t, c, context.Background(), url); got != code || err == nil {
			t.Fatalf("HTTP %d: got %d %v", code, got, err)
		}
		if n := len(s.times()); n != 1 {
			t.Fatalf("HTTP %d sent %d times", code, n)
		}
	}
}

func TestRetryGivesUp(t *testing.T) {
	t.Parallel()
	t.Run("attempts", func(t *testing.T) {
		c, _, s, url := testTransport(t, status(503, ""), status(503, ""), status(503, ""), status(503, ""), status(503, ""))
		if code, _ := get(t, c, context.Background(), url); code != 503 {
			t.Fatalf("got %d, want the last 503", code)
		}
		if n := len(s.times()); n != 4 {
			t.Fatalf("%d attempts, want the cap of 4", n)
		}
	})
	t.Run("long Retry-After", func(t *testing.T) {
		c, tr, s, url := testTransport(t, status(429, "120"))
		code, err := get(t, c, context.Background(), url)
		if code != 429 || err.(*HTTPError).RetryAfter != 120*time.Second {
			t.Fatalf("got %d %v, want the 429 and its Retry-After", code, err)
		}
		if n := len(s.times()); n != 1 {
			t.Fatalf("%d attempts, want 1: two minutes is not waited in place", n)
		}
		if d := tr.pacer.pausedFor(); d < 119*time.Second {
			t.Fatalf("account paused for %s, want the 120s asked", d)
		}
		// The next request is not sent while the pause lasts.
		ctx := withPageDeadline(context.Background(), time.Second)
		if _, err := get(t, c, ctx, url); err == nil || len(s.times()) != 1 {
			t.Fatalf("request during the pause: %v, %d sent", err, len(s.times()))
		}
	})
	t.Run("page deadline", func(t *testing.T) {
		c, _, s, url := testTransport(t, status(503, "2"))
		ctx := withPageDeadline(context.Background(), time.Second)
		if code, _ := get(t, c, ctx, url); code != 503 {
			t.Fatalf("got %d, want the 503: its wait ends past the page's deadline", code)
		}
		if n := len(s.times()); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
	})
	t.Run("not idempotent", func(t *testing.T) {
		c, _, s, url := testTransport(t, status(503, ""))
		resp, err := c.Post(url, "application/json", nil)
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("POST: %v %v", resp, err)
		}
		resp.Body.Close()
		if n := len(s.times()); n != 1 {
			t.Fatalf("POST sent %d times", n)
		}
	})
}

func TestRetryUsesProviderHints(t *testing.T) {
	t.Parallel()
	c, tr, s, url := testTransport(t, status(429, ""))
	tr.hints = hintFunc(func(e *HTTPError) time.Duration {
		if e.Status == 429 && e.Body != "" {
			return 700 * time.Millisecond
		}
		return 0
	})
	if code, err := get(t, c, context.Background(), url); code != 200 || err != nil {
		t.Fatalf("%d %v", code, err)
	}
	if at := s.times(); len(at) != 2 || at[1].Sub(at[0]) < 700*time.Millisecond {
		t.Fatalf("retried %s after the 429, want the hinted 700ms", at[len(at)-1].Sub(at[0]))
	}
}

func TestRetryTimesOutEachAttempt(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-r.Context().Done() // the first attempt never answers
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	pol := RetryPolicy{MinWait: time.Millisecond}
	pol.setDefaults()
	tr := &accountTransport{next: http.DefaultTransport, pacer: newPacer(0), policy: pol, timeout: 200 * time.Millisecond, count: new(atomic.Int64)}
	if code, err := get(t, &http.Client{Transport: tr}, context.Background(), srv.URL); code != 200 || err != nil {
		t.Fatalf("%d %v", code, err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d attempts, want 2", calls.Load())
	}
}
