package miraklsim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAuthRefusesMissingUnknownAndBearerKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := addThreads(f.sim, shopA, 1)[0]

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
				resp, body := f.get(tc.key, path)
				wantStatus(t, resp, body, http.StatusUnauthorized)
				wantErrorBody(t, body, http.StatusUnauthorized)
				if strings.Contains(string(body), keyA) {
					t.Fatalf("error body echoes the key: %s", body)
				}
			}
			resp, body := f.post(tc.key, id, map[string]any{"body": "x", "to": []map[string]string{{"type": "CUSTOMER"}}}, nil)
			wantStatus(t, resp, body, http.StatusUnauthorized)
		})
	}
	st := f.sim.Stats()
	if st.Unauthorized != 12 || st.M10Calls != 0 || st.M11Calls != 0 || st.M12Calls != 0 {
		t.Fatalf("stats %+v: want 12 unauthorized and no counted calls", st)
	}

	resp, body := f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)
}

func TestShopIDParameterMustBeTheKeysShop(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	addThreads(f.sim, shopA, 1)

	var p jPage
	f.getOK(keyA, "/api/inbox/threads?shop_id="+shopA, &p)
	if len(p.Data) != 1 {
		t.Fatalf("got %d threads, want 1", len(p.Data))
	}
	resp, body := f.get(keyA, "/api/inbox/threads?shop_id="+shopB)
	wantStatus(t, resp, body, http.StatusForbidden)
	wantErrorBody(t, body, http.StatusForbidden)
}

func TestShopsAreSeparate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := addThreads(f.sim, shopA, 3)
	b := addThreads(f.sim, shopB, 2)

	if got := ids(f.walk(keyA, nil, nil)); len(got) != 3 {
		t.Fatalf("shop A lists %d threads, want 3", len(got))
	}
	if got := ids(f.walk(keyB, nil, nil)); len(got) != 2 || (got[0] != b[0] && got[0] != b[1]) {
		t.Fatalf("shop B lists %v, want %v", got, b)
	}
	resp, body := f.get(keyB, "/api/inbox/threads/"+a[0])
	wantStatus(t, resp, body, http.StatusNotFound)
	resp, body = f.post(keyB, a[0], map[string]any{"body": "x", "to": []map[string]string{{"type": "CUSTOMER"}}}, nil)
	wantStatus(t, resp, body, http.StatusNotFound)

	// A page token is bound to its shop too.
	f.sim.Seed(shopA, 60, 1, t0)
	p := f.list(keyA, nil)
	resp, body = f.get(keyB, "/api/inbox/threads?page_token="+url.QueryEscape(*p.Next))
	wantStatus(t, resp, body, http.StatusBadRequest)
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 2})

	for i := range 2 {
		resp, body := f.get(keyA, "/api/inbox/threads")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst: status %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	wantErrorBody(t, body, http.StatusTooManyRequests)
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q, want \"1\" (whole seconds, rounded up)", got)
	}

	// Keys are limited separately.
	resp, body = f.get(keyB, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)

	// Half a second at 2/s buys one request, not two.
	f.clock.Advance(500 * time.Millisecond)
	resp, body = f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = f.get(keyA, "/api/inbox/threads/unknown")
	wantStatus(t, resp, body, http.StatusTooManyRequests)

	st := f.sim.Stats()
	if st.RateLimited != 2 || st.M11Calls != 5 || st.M10Calls != 1 {
		t.Fatalf("stats %+v: want 2 rate limited, 5 M11 and 1 M10 calls", st)
	}
	f.sim.ResetStats()
	if st := f.sim.Stats(); st != (Stats{}) {
		t.Fatalf("stats after reset %+v", st)
	}
}

func TestRateLimitRetryAfterRoundsUpSlowRates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 0.4})
	f.get(keyA, "/api/inbox/threads")
	resp, body := f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusTooManyRequests)
	if got := resp.Header.Get("Retry-After"); got != "3" {
		t.Fatalf("Retry-After %q, want \"3\" (2.5 s rounded up)", got)
	}
	f.clock.Advance(2500 * time.Millisecond)
	resp, body = f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)
}

func TestFaultsApplyInOrderToMatchingAuthenticatedRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := addThreads(f.sim, shopA, 1)[0]

	f.sim.InjectFault(Fault{Endpoint: "M11", Status: http.StatusServiceUnavailable, RetryAfter: "7", Times: 2})
	f.sim.InjectFault(Fault{Endpoint: "M11", Status: http.StatusOK, Body: `{"data": [`})
	f.sim.InjectFault(Fault{Endpoint: "M10", Status: http.StatusBadGateway})

	// Unauthenticated requests do not consume faults.
	resp, body := f.get("", "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusUnauthorized)

	// The M10 fault is behind two M11 ones but applies to M10 at once.
	resp, body = f.get(keyA, "/api/inbox/threads/"+id)
	wantStatus(t, resp, body, http.StatusBadGateway)
	wantErrorBody(t, body, http.StatusBadGateway)
	resp, body = f.get(keyA, "/api/inbox/threads/"+id)
	wantStatus(t, resp, body, http.StatusOK)

	for range 2 {
		resp, body = f.get(keyA, "/api/inbox/threads")
		wantStatus(t, resp, body, http.StatusServiceUnavailable)
		if got := resp.Header.Get("Retry-After"); got != "7" {
			t.Fatalf("Retry-After %q, want 7", got)
		}
	}
	resp, body = f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)
	if string(body) != `{"data": [` {
		t.Fatalf("malformed fault body %q", body)
	}
	resp, body = f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)
	if resp.Header.Get("Retry-After") != "" {
		t.Fatal("Retry-After on a normal answer")
	}

	if st := f.sim.Stats(); st.Faults != 4 || st.M11Calls != 4 || st.M10Calls != 2 {
		t.Fatalf("stats %+v: want 4 faults, 4 M11 and 2 M10 calls", st)
	}
}

func TestFaultForAnyEndpointAndShop(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.sim.InjectFault(Fault{Account: shopB, Status: http.StatusTooManyRequests, RetryAfter: "2"})
	f.sim.InjectFault(Fault{})

	resp, body := f.get(keyA, "/api/inbox/threads/none")
	wantStatus(t, resp, body, http.StatusInternalServerError) // second fault: any shop, default 500
	resp, body = f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = f.get(keyB, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusTooManyRequests)

	f.sim.InjectFault(Fault{Times: 5})
	f.sim.ClearFaults()
	resp, body = f.get(keyA, "/api/inbox/threads")
	wantStatus(t, resp, body, http.StatusOK)
}

func TestMountUnderPathPrefix(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddShop(shopA, keyA)
	addThreads(sim, shopA, 2)
	mux := http.NewServeMux()
	mux.Handle("/mirakl/", http.StripPrefix("/mirakl", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mirakl/api/inbox/threads", nil)
	req.Header.Set("Authorization", keyA)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d under /mirakl", resp.StatusCode)
	}
}

func TestUnknownRouteIs404JSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	resp, body := f.get(keyA, "/api/orders")
	wantStatus(t, resp, body, http.StatusNotFound)
	wantErrorBody(t, body, http.StatusNotFound)
}
