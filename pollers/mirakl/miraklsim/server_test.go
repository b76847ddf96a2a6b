package miraklsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

func TestAuthRefusesMissingUnknownAndBearerKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := addThreads(f.Sim, shopA, 1)[0]

	for _, tc := range []struct {
		name, key string
	}{
		{"missing", ""},
		{"unknown", "not-a-key"},
		{"bearer", "Bearer " + keyA},
		{"bearer lower case", "bearer " + keyA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/inbox/threads", "/api/inbox/threads/" + id} {
				r := f.Get(tc.key, path)
				simtest.WantStatus(t, r, http.StatusUnauthorized)
				wantErrorBody(t, r.Body, http.StatusUnauthorized)
				if strings.Contains(string(r.Body), keyA) {
					t.Fatalf("error body echoes the key: %s", r.Body)
				}
			}
			r := f.post(tc.key, id, map[string]any{"body": "x", "to": []map[string]string{{"type": "CUSTOMER"}}}, nil)
			simtest.WantStatus(t, r, http.StatusUnauthorized)
		})
	}
	st := f.Sim.Stats()
	if st.Unauthorized != 12 || st.M10Calls != 0 || st.M11Calls != 0 || st.M12Calls != 0 {
		t.Fatalf("stats %+v: want 12 unauthorized and no counted calls", st)
	}

	r := f.Get(keyA, "/api/inbox/threads")
	simtest.WantStatus(t, r, http.StatusOK)
}

func TestShopIDParameterMustBeTheKeysShop(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	addThreads(f.Sim, shopA, 1)

	var p jPage
	f.GetJSON(keyA, "/api/inbox/threads?shop_id="+shopA, &p)
	if len(p.Data) != 1 {
		t.Fatalf("got %d threads, want 1", len(p.Data))
	}
	f.refused(keyA, "/api/inbox/threads?shop_id="+shopB, http.StatusForbidden)
}

func TestShopsAreSeparate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := addThreads(f.Sim, shopA, 3)
	b := addThreads(f.Sim, shopB, 2)

	if got := ids(f.walk(keyA, nil, nil)); len(got) != 3 {
		t.Fatalf("shop A lists %d threads, want 3", len(got))
	}
	if got := ids(f.walk(keyB, nil, nil)); len(got) != 2 || (got[0] != b[0] && got[0] != b[1]) {
		t.Fatalf("shop B lists %v, want %v", got, b)
	}
	r := f.Get(keyB, "/api/inbox/threads/"+a[0])
	simtest.WantStatus(t, r, http.StatusNotFound)
	r = f.post(keyB, a[0], map[string]any{"body": "x", "to": []map[string]string{{"type": "CUSTOMER"}}}, nil)
	simtest.WantStatus(t, r, http.StatusNotFound)

	// A page token is bound to its shop too.
	f.Sim.Seed(shopA, 60, 1, t0)
	p := f.list(keyA, nil)
	r = f.Get(keyB, "/api/inbox/threads?page_token="+url.QueryEscape(*p.Next))
	simtest.WantStatus(t, r, http.StatusBadRequest)
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 2})

	for i := range 2 {
		r := f.Get(keyA, "/api/inbox/threads")
		if r.Status != http.StatusOK {
			t.Fatalf("request %d within the burst: status %d %s", i, r.Status, r.Body)
		}
	}
	r := f.refused(keyA, "/api/inbox/threads", http.StatusTooManyRequests)
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q, want \"1\" (whole seconds, rounded up)", got)
	}

	// Keys are limited separately.
	r = f.Get(keyB, "/api/inbox/threads")
	simtest.WantStatus(t, r, http.StatusOK)

	// Half a second at 2/s buys one request, not two.
	f.Clock.Advance(500 * time.Millisecond)
	r = f.Get(keyA, "/api/inbox/threads")
	simtest.WantStatus(t, r, http.StatusOK)
	r = f.Get(keyA, "/api/inbox/threads/unknown")
	simtest.WantStatus(t, r, http.StatusTooManyRequests)

	if st := f.Sim.Stats(); st.RateLimited != 2 || st.M11Calls != 5 || st.M10Calls != 1 {
		t.Fatalf("stats %+v: want 2 rate limited, 5 M11 and 1 M10 calls", st)
	}
}

func TestRateLimitRetryAfterRoundsUpSlowRates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 0.4})
	f.Get(keyA, "/api/inbox/threads")
	r := f.Get(keyA, "/api/inbox/threads")
	simtest.WantStatus(t, r, http.StatusTooManyRequests)
	if got := r.Header.Get("Retry-After"); got != "3" {
		t.Fatalf("Retry-After %q, want \"3\" (2.5 s rounded up)", got)
	}
	f.Clock.Advance(2500 * time.Millisecond)
	r = f.Get(keyA, "/api/inbox/threads")
	simtest.WantStatus(t, r, http.StatusOK)
}

func TestUnknownRouteIs404JSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.refused(keyA, "/api/orders", http.StatusNotFound)
}
