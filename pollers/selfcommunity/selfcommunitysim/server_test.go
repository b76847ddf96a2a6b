package selfcommunitysim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuthRefusesMissingMalformedAndUnknownTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for _, auth := range []string{"", tokenA, "Token " + tokenA, "Bearer ", "Bearer nope"} {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/v2/pm/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("Authorization %q: %d %q, want 401 with a Bearer challenge", auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	r := f.get("wrong-token", "/api/v2/pm/")
	if d := detail(t, r); d != "Authentication credentials were not provided." || strings.Contains(string(r.body), "wrong-token") {
		t.Fatalf("401 body %s", r.body)
	}
	if st := f.sim.Stats(); st.Unauthorized != 6 || st.Snippets != 0 {
		t.Fatalf("stats %+v: refused requests must count as unauthorized only", st)
	}
	// A good token, in any case of the scheme.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/v2/pm/", nil)
	req.Header.Set("Authorization", "bearer "+tokenA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("lower-case bearer: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestAddAccountTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if id := f.sim.AddAccount(userA, "second-token"); id != f.idA {
		t.Fatalf("a second token made user %s, want %s", id, f.idA)
	}
	if r := f.get("second-token", "/api/v2/pm/"); r.status != http.StatusOK {
		t.Fatalf("second token: %d", r.status)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a token of another account was accepted")
		}
	}()
	f.sim.AddAccount(userB, tokenA)
}

func TestRateLimitAnswers429LikeDRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 0.5, Burst: 2})
	for i := range 2 {
		if r := f.get(tokenA, "/api/v2/pm/"); r.status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, r.status)
		}
	}
	r := f.get(tokenA, "/api/v2/pm/")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
		t.Fatalf("over the limit: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	if d := detail(t, r); d != "Request was throttled. Expected available in 2 seconds." {
		t.Fatalf("429 detail %q", d)
	}
	// Limits are per user: B still has its burst.
	if r := f.get(tokenB, "/api/v2/pm/"); r.status != http.StatusOK {
		t.Fatalf("other account: %d", r.status)
	}
	f.clock.Advance(2 * time.Second)
	if r := f.get(tokenA, "/api/v2/pm/"); r.status != http.StatusOK {
		t.Fatalf("after waiting: %d", r.status)
	}
	if st := f.sim.Stats(); st.RateLimited != 1 || st.Snippets != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultsApplyInOrderToMatchingRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.sim.AddThread(userA, NewThread{})
	f.sim.InjectFault(Fault{Endpoint: EndpointThread, Status: http.StatusBadGateway})
	f.sim.InjectFault(Fault{Endpoint: EndpointSnippets, Account: userB, Status: http.StatusServiceUnavailable, RetryAfter: "7", Times: 2})
	f.sim.InjectFault(Fault{Endpoint: EndpointSnippets, Status: http.StatusOK, Body: `{"count": 1, "results": [`})
	f.sim.InjectFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: "3"})

	// Unauthenticated requests leave the queue alone.
	if r := f.get("", "/api/v2/pm/"); r.status != http.StatusUnauthorized {
		t.Fatalf("unauthenticated: %d", r.status)
	}
	if r := f.get(tokenA, "/api/v2/pm/"); r.status != http.StatusOK || string(r.body) != `{"count": 1, "results": [` {
		t.Fatalf("A snippets: %d %s, want the raw fault body", r.status, r.body)
	}
	for range 2 {
		r := f.get(tokenB, "/api/v2/pm/")
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "7" || !strings.HasPrefix(detail(t, r), "Injected fault: 503") {
			t.Fatalf("B snippets: %d %q %s", r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	if r := f.get(tokenA, "/api/v2/pm/?thread="+th); r.status != http.StatusBadGateway {
		t.Fatalf("thread: %d", r.status)
	}
	r := f.get(tokenB, "/api/v2/pm/")
	if r.status != http.StatusTooManyRequests || detail(t, r) != "Request was throttled. Expected available in 3 seconds." {
		t.Fatalf("any endpoint: %d %s", r.status, r.body)
	}
	if r := f.get(tokenA, "/api/v2/pm/"); r.status != http.StatusOK {
		t.Fatalf("after the faults: %d", r.status)
	}
	if st := f.sim.Stats(); st.Faults != 5 || st.Snippets != 5 || st.Thread != 1 {
		t.Fatalf("stats %+v", st)
	}
	f.sim.InjectFault(Fault{})
	f.sim.ClearFaults()
	if r := f.get(tokenA, "/api/v2/pm/"); r.status != http.StatusOK {
		t.Fatalf("after ClearFaults: %d", r.status)
	}
	f.sim.ResetStats()
	if st := f.sim.Stats(); st != (Stats{}) {
		t.Fatalf("after ResetStats: %+v", st)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if r := f.get(tokenA, "/api/v2/pm"); r.status != http.StatusMovedPermanently || r.header.Get("Location") != "/api/v2/pm/" {
		t.Fatalf("no trailing slash: %d %q", r.status, r.header.Get("Location"))
	}
	if r := f.get(tokenA, "/api/v2/pm?limit=2"); r.header.Get("Location") != "/api/v2/pm/?limit=2" {
		t.Fatalf("redirect drops the query: %q", r.header.Get("Location"))
	}
	for _, p := range []string{"/", "/api/v2/pm/x/", "/api/v2/user/me/", "/api/v2/pm/12/34/"} {
		if r := f.get(tokenA, p); r.status != http.StatusNotFound || detail(t, r) != "Not found." {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	if r := f.request(http.MethodPut, tokenA, "/api/v2/pm/", nil); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") == "" {
		t.Fatalf("PUT: %d", r.status)
	}
}

func TestMountUnderPathPrefix(t *testing.T) {
	t.Parallel()
	sim := New(Config{DefaultLimit: 2})
	sim.AddAccount(userA, tokenA)
	for range 3 {
		sim.AddThread(userA, NewThread{})
	}
	mux := http.NewServeMux()
	mux.Handle("/community/", http.StripPrefix("/community", sim))
	f := &fixture{t: t, sim: sim}
	f.srv = newServer(t, mux)
	p := decodePage[jsonSnippet](t, f.get(tokenA, "/community/api/v2/pm/"))
	if p.Next == nil || *p.Next != f.srv.URL+"/community/api/v2/pm/?limit=2&offset=2" {
		t.Fatalf("next under a prefix: %v", p.Next)
	}
	p = decodePage[jsonSnippet](t, f.get(tokenA, strings.TrimPrefix(*p.Next, f.srv.URL)))
	if len(p.Results) != 1 || p.Next != nil || p.Previous == nil || *p.Previous != f.srv.URL+"/community/api/v2/pm/?limit=2" {
		t.Fatalf("last page under a prefix: %d results, next %v, previous %v", len(p.Results), p.Next, p.Previous)
	}
}
