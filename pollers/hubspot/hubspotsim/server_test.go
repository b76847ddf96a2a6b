package hubspotsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.sim.AddToken(portalA, "pat-na1-noscope", "crm.objects.contacts.read")
	for _, c := range []struct {
		name, auth string
		status     int
		category   string
	}{
		{"missing", "", http.StatusUnauthorized, catAuth},
		{"unknown token", "Bearer pat-na1-unknown", http.StatusUnauthorized, catAuth},
		{"raw token", tokA, http.StatusUnauthorized, catAuth},
		{"basic", "Basic " + tokA, http.StatusUnauthorized, catAuth},
		{"no conversations.read", "Bearer pat-na1-noscope", http.StatusForbidden, catScopes},
		{"lower-case scheme", "bearer " + tokA, http.StatusOK, ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+threadsURL, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
			continue
		}
		if c.category != "" {
			wantError(t, body, c.category)
		}
	}
	if st := f.sim.Stats(); st.Unauthorized != 5 || st.ThreadsCalls != 1 {
		t.Fatalf("stats %+v: want 5 refused and 1 call", st)
	}
}

func TestAccountsAreSeparate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := f.sim.AddThread(portalA, NewThread{At: t0})
	m := f.sim.AddMessage(portalA, a, Visitor, "hi", t0)
	b := f.sim.AddThread(portalB, NewThread{At: t0})
	if got := f.walk(tokA, ""); len(got) != 1 || got[0] != a {
		t.Fatalf("A sees %v", got)
	}
	if got := f.walk(tokB, ""); len(got) != 1 || got[0] != b {
		t.Fatalf("B sees %v", got)
	}
	resp, body := f.get(tokB, threadsURL+"/"+a+"/messages")
	wantStatus(t, resp, body, http.StatusNotFound)
	wantError(t, body, catNotFound)
	resp, body = f.get(tokB, threadsURL+"/"+a+"/messages/"+m+"/original-content")
	wantStatus(t, resp, body, http.StatusNotFound)
	if f.sim.InboxID(portalA) == f.sim.InboxID(portalB) {
		t.Fatal("accounts share an inbox id")
	}
}

func TestBurstLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 0.3}) // 3 per 10 s
	for i := range 3 {
		resp, body := f.get(tokA, threadsURL)
		wantStatus(t, resp, body, http.StatusOK)
		if got, want := resp.Header.Get("X-HubSpot-RateLimit-Remaining"), string(rune('2'-i)); got != want {
			t.Fatalf("request %d: remaining %q, want %q", i, got, want)
		}
		if resp.Header.Get("X-HubSpot-RateLimit-Max") != "3" || resp.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" {
			t.Fatalf("headers %v", resp.Header)
		}
		f.clock.Advance(time.Second)
	}
	resp, body := f.get(tokA, threadsURL+"/1/messages")
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	var rl rateLimitBody
	if err := json.Unmarshal(body, &rl); err != nil || rl.PolicyName != PolicyBurst || rl.ErrorType != "RATE_LIMIT" ||
		rl.Status != "error" || rl.CorrelationID == "" || !strings.Contains(rl.Message, "ten_secondly_rolling") {
		t.Fatalf("429 body %s", body)
	}
	if resp.Header.Get("Retry-After") != "" {
		t.Fatal("Retry-After sent; HubSpot documents none")
	}
	// Tokens have windows of their own.
	resp, body = f.get(tokB, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
	// The window rolls: 10 s after the first request, one more is allowed.
	f.clock.Advance(7 * time.Second)
	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusTooManyRequests)

	st := f.sim.Stats()
	if st.RateLimited != 2 || st.ThreadsCalls != 6 || st.MessagesCalls != 1 || st.DailyLimited != 0 {
		t.Fatalf("stats %+v", st)
	}
	f.sim.ResetStats()
	if st := f.sim.Stats(); st != (Stats{}) {
		t.Fatalf("stats after reset %+v", st)
	}
}

func TestBurstLimitRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 0.1, RetryAfter: true})
	f.get(tokA, threadsURL)
	f.clock.Advance(2500 * time.Millisecond)
	resp, body := f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if got := resp.Header.Get("Retry-After"); got != "8" {
		t.Fatalf("Retry-After %q, want \"8\" (7.5 s rounded up)", got)
	}
}

func TestDailyLimitResetsAtTheAccountsMidnight(t *testing.T) {
	t.Parallel()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	f := newFixture(t, Config{DailyLimit: 2})
	f.sim.SetTimeZone(portalA, tokyo)
	// t0 + 1h is 18:00 in Tokyo.
	for i := range 2 {
		resp, body := f.get(tokA, threadsURL)
		wantStatus(t, resp, body, http.StatusOK)
		if resp.Header.Get("X-HubSpot-RateLimit-Daily") != "2" || resp.Header.Get("X-HubSpot-RateLimit-Daily-Remaining") != string(rune('1'-i)) {
			t.Fatalf("headers %v", resp.Header)
		}
	}
	resp, body := f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	var rl rateLimitBody
	if err := json.Unmarshal(body, &rl); err != nil || rl.PolicyName != PolicyDaily || rl.Message != "You have reached your daily limit." {
		t.Fatalf("429 body %s", body)
	}
	// Account B, in UTC, has its own allowance.
	resp, body = f.get(tokB, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
	f.clock.Advance(5*time.Hour + 59*time.Minute) // 23:59 in Tokyo
	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	f.clock.Advance(time.Minute) // midnight in Tokyo, 15:00 UTC
	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
	if st := f.sim.Stats(); st.DailyLimited != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.sim.AddThread(portalA, NewThread{At: t0})
	f.sim.InjectFault(Fault{Endpoint: EndpointMessages, Status: http.StatusBadGateway})
	f.sim.InjectFault(Fault{Endpoint: EndpointThreads, Account: portalB, Status: http.StatusServiceUnavailable, Times: 2})
	f.sim.InjectFault(Fault{Endpoint: EndpointThreads, Status: http.StatusTooManyRequests, RetryAfter: "3"})
	f.sim.InjectFault(Fault{Status: http.StatusTooManyRequests, Policy: PolicyDaily})
	f.sim.InjectFault(Fault{Endpoint: EndpointThreads, Status: http.StatusOK, Body: `{"results": [`})

	// Unauthenticated requests leave the queue alone.
	resp, body := f.get("", threadsURL)
	wantStatus(t, resp, body, http.StatusUnauthorized)

	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") != "3" || !strings.Contains(string(body), `"policyName":"TEN_SECONDLY_ROLLING"`) {
		t.Fatalf("burst fault: %v %s", resp.Header, body)
	}
	resp, body = f.get(tokA, threadsURL+"/"+th+"/messages")
	wantStatus(t, resp, body, http.StatusBadGateway)
	wantError(t, body, catInternal)
	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if !strings.Contains(string(body), `"policyName":"DAILY"`) {
		t.Fatalf("daily fault: %s", body)
	}
	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
	if string(body) != `{"results": [` {
		t.Fatalf("body fault: %s", body)
	}
	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
	for range 2 {
		resp, body = f.get(tokB, threadsURL)
		wantStatus(t, resp, body, http.StatusServiceUnavailable)
	}
	resp, body = f.get(tokB, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
	if st := f.sim.Stats(); st.Faults != 6 {
		t.Fatalf("stats %+v", st)
	}

	f.sim.InjectFault(Fault{Times: 5})
	f.sim.ClearFaults()
	resp, body = f.get(tokA, threadsURL)
	wantStatus(t, resp, body, http.StatusOK)
}

func TestMountUnderPathPrefix(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddAccount(portalA, tokA)
	sim.Seed(portalA, 3, 1, t0)
	mux := http.NewServeMux()
	mux.Handle("/hubspot/", http.StripPrefix("/hubspot", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/hubspot"+threadsURL+"?limit=2", nil)
	req.Header.Set("Authorization", "Bearer "+tokA)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p jPage[jThread]
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || len(p.Results) != 2 || p.Paging == nil {
		t.Fatalf("%+v %v", p, err)
	}
	// paging.next.link points back through the prefix.
	if want := srv.URL + "/hubspot" + threadsURL + "?after="; !strings.HasPrefix(p.Paging.Next.Link, want) {
		t.Fatalf("link %q, want prefix %q", p.Paging.Next.Link, want)
	}
}

func TestUnknownRouteIs404JSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	resp, body := f.get(tokA, "/crm/v3/objects/contacts")
	wantStatus(t, resp, body, http.StatusNotFound)
	if e := wantError(t, body, catNotFound); e.CorrelationID != resp.Header.Get("X-HubSpot-Correlation-Id") {
		t.Fatalf("correlationId %q, header %q", e.CorrelationID, resp.Header.Get("X-HubSpot-Correlation-Id"))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestAddTokenPanicsOnForeignToken(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddAccount(portalA, tokA)
	sim.AddAccount(portalA, tokA) // again for the same account: fine
	defer func() {
		if recover() == nil {
			t.Fatal("a token given to two accounts")
		}
	}()
	sim.AddAccount(portalB, tokA)
}
