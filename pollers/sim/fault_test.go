package sim

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

func match(endpoint, account string) func(Fault) bool {
	return func(f Fault) bool { return Matches(f.Endpoint, endpoint) && Matches(f.Account, account) }
}

func TestFaultsFirstInFirstOut(t *testing.T) {
	var q Faults[Fault]
	if _, ok := q.Take(match("list", "a")); ok {
		t.Fatal("empty queue answered")
	}
	q.Add(Fault{Endpoint: "list", Status: 500}, 2)
	q.Add(Fault{Status: 503}, 0) // any endpoint, once
	q.Add(Fault{Account: "b", Status: 429}, 1)

	var got []int
	for _, req := range []struct{ endpoint, account string }{
		{"thread", "a"}, // skips the list fault: the catch-all answers
		{"list", "a"}, {"list", "a"},
		{"list", "a"}, // both list faults used up; b's does not match
		{"list", "b"},
		{"list", "b"},
	} {
		f, ok := q.Take(match(req.endpoint, req.account))
		if !ok {
			got = append(got, 0)
			continue
		}
		got = append(got, f.Status)
	}
	want := []int{503, 500, 500, 0, 429, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
}

func TestFaultsClear(t *testing.T) {
	var q Faults[Fault]
	q.Add(Fault{}, 5)
	q.Clear()
	if _, ok := q.Take(match("x", "y")); ok {
		t.Fatal("a cleared fault answered")
	}
	q.Add(Fault{}, 1)
	if _, ok := q.Take(match("x", "y")); !ok {
		t.Fatal("a fault added after Clear did not answer")
	}
}

// TestFaultsConcurrent checks that a fault answers exactly Times requests
// however many take it at once.
func TestFaultsConcurrent(t *testing.T) {
	type custom struct{ vendor int64 }
	var q Faults[custom]
	q.Add(custom{vendor: 7}, 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, ok := q.Take(func(c custom) bool { return Matches(c.vendor, 7) }); ok {
					mu.Lock()
					n++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if n != 100 {
		t.Fatalf("%d answers, want 100", n)
	}
}

func TestMatches(t *testing.T) {
	if !Matches("", "x") || !Matches("x", "x") || Matches("x", "y") || !Matches(int64(0), int64(5)) || Matches(int64(4), int64(5)) {
		t.Fatal("Matches: the zero value admits anything, another value only itself")
	}
}

func TestFaultServe(t *testing.T) {
	writeError := func(w http.ResponseWriter) func(int) {
		return func(status int) {
			WriteBody(w, status, "application/json", []byte(`{"error":`+strconv.Itoa(status)+`}`))
		}
	}
	for name, c := range map[string]struct {
		f                 Fault
		status            int
		body, retry, ctyp string
	}{
		"default status":   {Fault{}, 500, `{"error":500}`, "", "application/json"},
		"error body":       {Fault{Status: 429, RetryAfter: "3"}, 429, `{"error":429}`, "3", "application/json"},
		"raw body":         {Fault{Status: 200, Body: `{"data":[`}, 200, `{"data":[`, "", "application/json;charset=utf-8"},
		"raw body, no 200": {Fault{Body: "<html>"}, 500, "<html>", "", "application/json;charset=utf-8"},
	} {
		rec := httptest.NewRecorder()
		c.f.Serve(rec, "application/json;charset=utf-8", writeError(rec))
		if rec.Code != c.status || rec.Body.String() != c.body || rec.Header().Get("Retry-After") != c.retry ||
			rec.Header().Get("Content-Type") != c.ctyp || rec.Header().Get("Content-Length") != strconv.Itoa(len(c.body)) {
			t.Errorf("%s: %d %q %v", name, rec.Code, rec.Body, rec.Header())
		}
	}
}
