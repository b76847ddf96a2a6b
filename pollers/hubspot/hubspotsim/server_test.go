package hubspotsim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.AddToken(portalA, "pat-na1-noscope", "crm.objects.contacts.read")
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
		r := f.Get("", threadsURL, "Authorization: "+c.auth)
		if r.Status != c.status {
			t.Errorf("%s: status %d, want %d", c.name, r.Status, c.status)
			continue
		}
		if c.category != "" {
			wantError(t, r.Body, c.category)
		}
	}
	if st := f.Sim.Stats(); st.Unauthorized != 5 || st.ThreadsCalls != 1 {
		t.Fatalf("stats %+v: want 5 refused and 1 call", st)
	}
}

func TestAccountsAreSeparate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := f.Sim.AddThread(portalA, NewThread{At: t0})
	m := f.Sim.AddMessage(portalA, a, Visitor, "hi", t0)
	b := f.Sim.AddThread(portalB, NewThread{At: t0})
	if got := f.walk(tokA, ""); len(got) != 1 || got[0] != a {
		t.Fatalf("A sees %v", got)
	}
	if got := f.walk(tokB, ""); len(got) != 1 || got[0] != b {
		t.Fatalf("B sees %v", got)
	}
	r := f.Get(tokB, threadsURL+"/"+a+"/messages")
	simtest.WantStatus(t, r, http.StatusNotFound)
	wantError(t, r.Body, catNotFound)
	r = f.Get(tokB, threadsURL+"/"+a+"/messages/"+m+"/original-content")
	simtest.WantStatus(t, r, http.StatusNotFound)
	if f.Sim.InboxID(portalA) == f.Sim.InboxID(portalB) {
		t.Fatal("accounts share an inbox id")
	}
}

func TestBurstLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 0.3}) // 3 per 10 s
	for i := range 3 {
		r := f.Get(tokA, threadsURL)
		simtest.WantStatus(t, r, http.StatusOK)
		if got, want := r.Header.Get("X-HubSpot-RateLimit-Remaining"), string(rune('2'-i)); got != want {
			t.Fatalf("request %d: remaining %q, want %q", i, got, want)
		}
		if r.Header.Get("X-HubSpot-RateLimit-Max") != "3" || r.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds") != "10000" {
			t.Fatalf("headers %v", r.Header)
		}
		f.Clock.Advance(time.Second)
	}
	r := f.Get(tokA, threadsURL+"/1/messages")
	simtest.WantStatus(t, r, http.StatusTooManyRequests)
	if _, err := rateLimited(r, PolicyBurst, "You have reached your ten_secondly_rolling limit."); err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("Retry-After") != "" {
		t.Fatal("Retry-After sent; HubSpot documents none")
	}
	// Tokens have windows of their own.
	r = f.Get(tokB, threadsURL)
	simtest.WantStatus(t, r, http.StatusOK)
	// The window rolls: 10 s after the first request, one more is allowed.
	f.Clock.Advance(7 * time.Second)
	r = f.Get(tokA, threadsURL)
	simtest.WantStatus(t, r, http.StatusOK)
	r = f.Get(tokA, threadsURL)
	simtest.WantStatus(t, r, http.StatusTooManyRequests)

	if st := f.Sim.Stats(); st.RateLimited != 2 || st.ThreadsCalls != 6 || st.MessagesCalls != 1 || st.DailyLimited != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBurstLimitRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 0.1, RetryAfter: true})
	f.Get(tokA, threadsURL)
	f.Clock.Advance(2500 * time.Millisecond)
	r := f.Get(tokA, threadsURL)
	simtest.WantStatus(t, r, http.StatusTooManyRequests)
	if got := r.Header.Get("Retry-After"); got != "8" {
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
	f.Sim.SetTimeZone(portalA, tokyo)
	// t0 + 1h is 18:00 in Tokyo.
	for i := range 2 {
		r := f.Get(tokA, threadsURL)
		simtest.WantStatus(t, r, http.StatusOK)
		if r.Header.Get("X-HubSpot-RateLimit-Daily") != "2" || r.Header.Get("X-HubSpot-RateLimit-Daily-Remaining") != string(rune('1'-i)) {
			t.Fatalf("headers %v", r.Header)
		}
	}
	r := f.Get(tokA, threadsURL)
	simtest.WantStatus(t, r, http.StatusTooManyRequests)
	if _, err := rateLimited(r, PolicyDaily, "You have reached your daily limit."); err != nil {
		t.Fatal(err)
	}
	// Account B, in UTC, has its own allowance.
	r = f.Get(tokB, threadsURL)
	simtest.WantStatus(t, r, http.StatusOK)
	f.Clock.Advance(5*time.Hour + 59*time.Minute) // 23:59 in Tokyo
	r = f.Get(tokA, threadsURL)
	simtest.WantStatus(t, r, http.StatusTooManyRequests)
	f.Clock.Advance(time.Minute) // midnight in Tokyo, 15:00 UTC
	r = f.Get(tokA, threadsURL)
	simtest.WantStatus(t, r, http.StatusOK)
	if st := f.Sim.Stats(); st.DailyLimited != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFaultPolicies checks the 429 bodies a fault's Policy picks; the
// conformance suite checks the rest of faults.
func TestFaultPolicies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.InjectFault(Fault{Status: http.StatusTooManyRequests, Policy: PolicyDaily})
	f.Sim.InjectFault(Fault{Status: http.StatusTooManyRequests, Policy: PolicyBurst})
	for _, want := range []struct{ policy, message string }{
		{PolicyDaily, "You have reached your daily limit."},
		{PolicyBurst, "You have reached your ten_secondly_rolling limit."},
	} {
		r := f.Get(tokA, threadsURL)
		if _, err := rateLimited(r, want.policy, want.message); err != nil || r.Status != http.StatusTooManyRequests {
			t.Fatalf("%s fault: %d %s (%v)", want.policy, r.Status, r.Body, err)
		}
	}
}

func TestUnknownRouteIs404JSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	r := f.Get(tokA, "/crm/v3/objects/contacts")
	simtest.WantStatus(t, r, http.StatusNotFound)
	if e := wantError(t, r.Body, catNotFound); e.CorrelationID != r.Header.Get("X-HubSpot-Correlation-Id") {
		t.Fatalf("correlationId %q, header %q", e.CorrelationID, r.Header.Get("X-HubSpot-Correlation-Id"))
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
}
