package olxsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.sim.AddThread(acctA, NewThread{})
	f.sim.AddMessage(acctA, th, Interlocutor, "hi", time.Time{})
	list := "/api/partner/threads"

	r := f.do(http.MethodGet, list, tokenA, "", "Version:")
	if e := apiError(t, r); r.status != http.StatusBadRequest || e.Title != "Missing required header" {
		t.Fatalf("without Version: %d %s", r.status, r.body)
	}
	r = f.do(http.MethodGet, list, tokenA, "", "Version: 1.0")
	if r.status != http.StatusBadRequest {
		t.Fatalf("Version 1.0: %d %s", r.status, r.body)
	}
	r = f.do(http.MethodGet, list, tokenA, "", "Content-Type: application/json")
	if r.status != http.StatusBadRequest {
		t.Fatalf("GET with Content-Type: %d %s", r.status, r.body)
	}
	st := f.sim.Stats()
	if st.MissingVersion != 2 || st.GETContentType != 1 || st.Threads != 0 {
		t.Fatalf("stats %+v", st)
	}

	lax := newFixture(t, Config{AllowGETContentType: true})
	r = lax.do(http.MethodGet, list, tokenA, "", "Content-Type: application/json")
	if r.status != http.StatusOK || lax.sim.Stats().GETContentType != 1 {
		t.Fatalf("lax GET with Content-Type: %d, stats %+v", r.status, lax.sim.Stats())
	}
	// POST bodies carry one, as they should.
	r = f.do(http.MethodPost, list+"/"+th+"/commands", tokenA, `{"command":"mark-as-read"}`)
	if r.status != http.StatusNoContent {
		t.Fatalf("POST with Content-Type: %d %s", r.status, r.body)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	thA := f.sim.AddThread(acctA, NewThread{})
	thB := f.sim.AddThread(acctB, NewThread{})
	for name, hdr := range map[string]string{
		"missing":       "Authorization:",
		"unknown token": "Authorization: Bearer nope",
		"no Bearer":     "Authorization: " + tokenA,
		"basic":         "Authorization: Basic " + tokenA,
	} {
		r := f.do(http.MethodGet, "/api/partner/threads", tokenA, "", hdr)
		var e oauthError
		if r.status != http.StatusUnauthorized || json.Unmarshal(r.body, &e) != nil || e.Error != "invalid_token" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		if strings.Contains(string(r.body), tokenA) {
			t.Errorf("%s: the answer echoes the token", name)
		}
	}
	if st := f.sim.Stats(); st.Unauthorized != 4 || st.Threads != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Each token sees its own account only.
	if got := ids(f.threads(tokenA, "")); len(got) != 1 || strconv.FormatInt(got[0], 10) != thA {
		t.Fatalf("account A lists %v", got)
	}
	if r := f.get("/api/partner/threads/"+thB, tokenA); r.status != http.StatusNotFound {
		t.Fatalf("thread of B with A's token: %d", r.status)
	}
	if r := f.get("/api/partner/threads/"+thB+"/messages", tokenA); r.status != http.StatusNotFound {
		t.Fatalf("messages of B's thread with A's token: %d", r.status)
	}
	// A second token for the same account sees the same inbox.
	f.sim.AddAccount(acctA, "token-a2")
	if got := ids(f.threads("token-a2", "")); len(got) != 1 {
		t.Fatalf("second token lists %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a token given to two accounts did not panic")
		}
	}()
	f.sim.AddAccount(acctB, "token-a2")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	for _, retryAfter := range []bool{false, true} {
		f := newFixture(t, Config{RequestsPerSecond: 2, RetryAfter: retryAfter})
		for i := range 2 {
			if r := f.get("/api/partner/threads", tokenA); r.status != http.StatusOK {
				t.Fatalf("request %d: %d", i, r.status)
			}
		}
		r := f.get("/api/partner/threads", tokenA)
		if e := apiError(t, r); r.status != http.StatusTooManyRequests || e.Status != 429 {
			t.Fatalf("third request: %d %s", r.status, r.body)
		}
		if got, want := r.header.Get("Retry-After"), map[bool]string{false: "", true: "1"}[retryAfter]; got != want {
			t.Fatalf("Retry-After %q, want %q", got, want)
		}
		// Tokens are limited one by one.
		if r := f.get("/api/partner/threads", tokenB); r.status != http.StatusOK {
			t.Fatalf("other token: %d", r.status)
		}
		f.clock.Advance(500 * time.Millisecond)
		if r := f.get("/api/partner/threads", tokenA); r.status != http.StatusOK {
			t.Fatalf("after half a second: %d", r.status)
		}
		if st := f.sim.Stats(); st.RateLimited != 1 || st.Threads != 5 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.sim.AddThread(acctA, NewThread{})
	f.sim.InjectFault(Fault{Endpoint: EndpointMessages, Status: http.StatusBadGateway})
	f.sim.InjectFault(Fault{Endpoint: EndpointThreads, Account: acctB, Status: http.StatusTooManyRequests, RetryAfter: "3", Times: 2})
	f.sim.InjectFault(Fault{Endpoint: EndpointThreads, Status: http.StatusOK, Body: `{"data": [`})

	// Unauthenticated requests leave the queue alone.
	if r := f.get("/api/partner/threads", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
	r := f.get("/api/partner/threads", tokenA) // B's fault does not match; the next one does
	if r.status != http.StatusOK || string(r.body) != `{"data": [` {
		t.Fatalf("truncated body fault: %d %s", r.status, r.body)
	}
	for range 2 {
		r = f.get("/api/partner/threads", tokenB)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "3" || apiError(t, r).Status != 429 {
			t.Fatalf("B's fault: %d %v %s", r.status, r.header, r.body)
		}
	}
	if r = f.get("/api/partner/threads", tokenB); r.status != http.StatusOK {
		t.Fatalf("after B's fault: %d", r.status)
	}
	if r = f.get("/api/partner/threads/"+th+"/messages", tokenA); r.status != http.StatusBadGateway {
		t.Fatalf("messages fault: %d", r.status)
	}
	f.sim.InjectFault(Fault{})
	f.sim.ClearFaults()
	if r = f.get("/api/partner/threads/"+th, tokenA); r.status != http.StatusOK {
		t.Fatalf("after ClearFaults: %d", r.status)
	}
	st := f.sim.Stats()
	if st.Faults != 4 || st.Threads != 4 || st.Messages != 1 || st.Calls[EndpointThread] != 1 {
		t.Fatalf("stats %+v", st)
	}
	f.sim.ResetStats()
	if st := f.sim.Stats(); st.Faults != 0 || st.Threads != 0 || st.Calls[EndpointThread] != 0 || st.Unauthorized != 0 {
		t.Fatalf("stats after reset %+v", st)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.sim.AddThread(acctA, NewThread{})
	m := f.sim.AddMessage(acctA, th, Interlocutor, "hi", time.Time{})
	for _, path := range []string{
		"/api/partner/threads/999", "/api/partner/threads/x/messages", "/api/partner/threads/" + th + "/messages/1",
		"/api/partner/nothing", "/api/open/threads",
	} {
		if r := f.get(path, tokenA); r.status != http.StatusNotFound || apiError(t, r).Status != 404 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	r := f.get("/api/partner/threads/"+th+"/messages/"+m, tokenA)
	var env struct{ Data wireMessage }
	if r.status != http.StatusOK || json.Unmarshal(r.body, &env) != nil || strconv.FormatInt(env.Data.ID, 10) != m {
		t.Fatalf("one message: %d %s", r.status, r.body)
	}
}

// Readers page and writers write at once; the race detector watches, and
// every page is a well-formed window.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Now: time.Now})
	f.sim.Seed(acctA, 200, 2, time.Time{})
	var wg sync.WaitGroup
	wg.Go(func() {
		truth := f.sim.Threads(acctA)
		for i := range 1000 {
			th := truth[i%len(truth)].ID
			f.sim.AddMessage(acctA, th, SenderType(1+i%2), "x", time.Time{})
			if i%7 == 0 {
				f.sim.MarkRead(acctA, th)
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for off := 0; off < 200; off += 20 {
				var page struct{ Data []wireThread }
				if err := getJSON(f.srv.URL+"/api/partner/threads?limit=20&offset="+strconv.Itoa(off), tokenA, &page); err != nil || len(page.Data) != 20 {
					t.Errorf("page at %d: %d threads, %v", off, len(page.Data), err)
					return
				}
				var msgs struct{ Data []wireMessage }
				if err := getJSON(f.srv.URL+"/api/partner/threads/"+strconv.FormatInt(page.Data[0].ID, 10)+"/messages", tokenA, &msgs); err != nil || len(msgs.Data) < 2 {
					t.Errorf("messages: %d, %v", len(msgs.Data), err)
				}
				_ = f.sim.Threads(acctA)
			}
		})
	}
	wg.Wait()
	truth := f.sim.Threads(acctA)
	if len(truth) != 200 {
		t.Fatalf("%d threads", len(truth))
	}
	for _, th := range truth {
		unread := 0
		for _, m := range th.Messages {
			if m.From == Interlocutor && !m.IsRead {
				unread++
			}
		}
		if unread != th.UnreadCount {
			t.Fatalf("thread %s: unread_count %d, %d unread messages", th.ID, th.UnreadCount, unread)
		}
		if !slices.IsSortedFunc(th.Messages, func(a, b MessageInfo) int { return a.At.Compare(b.At) }) {
			t.Fatalf("thread %s: messages out of time order", th.ID)
		}
	}
}
