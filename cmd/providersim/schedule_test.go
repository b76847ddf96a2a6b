package main

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// startMirakl runs providersim with one Mirakl shop (2001) and no other
// accounts until the test ends, and returns its address and the shop's key.
func startMirakl(t *testing.T, args ...string) (addr, key string) {
	t.Helper()
	srv := serve(t, io.Discard, append([]string{"-rate", "0", "-seed-threads", "3",
		"-mirakl-shops", "1", "-olx-accounts", "0", "-hubspot-accounts", "0", "-partizap-accounts", "0", "-selfcommunity-accounts", "0"}, args...)...)
	m := regexp.MustCompile(`token: "([0-9a-f]{32})"`).FindSubmatch(srv.accounts)
	if m == nil {
		t.Fatalf("accounts file:\n%s", srv.accounts)
	}
	return srv.addr, string(m[1])
}

// listThreads sends M11 for the shop and returns the answer, its body
// (as far as it arrived) and the error reading it.
func listThreads(t *testing.T, addr, key string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/mirakl/api/inbox/threads", nil)
	req.Header.Set("Authorization", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// scheduleStats reads the admin API's stats of the Mirakl simulator.
func scheduleStats(t *testing.T, addr string) (m11 int64, observed sim.Observed) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/_admin/mirakl/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		M11Calls int64
		Schedule map[string]sim.Observed
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.M11Calls, st.Schedule["2001"]
}

// TestThrottleAndSlowFlags checks the flags' schedule on the Mirakl API:
// every second request throttled in Mirakl's format, every third one
// held back, the sixth both.
func TestThrottleAndSlowFlags(t *testing.T) {
	const slow = 20 * time.Millisecond
	addr, key := startMirakl(t, "-throttle-every", "2", "-slow-every", "3", "-slow", slow.String())
	for i, want := range []int{200, 429, 200, 429, 200, 429} {
		start := time.Now()
		resp, body, err := listThreads(t, addr, key)
		took := time.Since(start)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("request %d: %d, %v; want %d", i+1, resp.StatusCode, err, want)
		}
		var e struct {
			Status  int
			Message string
		}
		if want == 429 && (resp.Header.Get("Retry-After") != "1" || json.Unmarshal(body, &e) != nil || e.Status != 429 || e.Message == "") {
			t.Fatalf("request %d: %v %s", i+1, resp.Header, body)
		}
		if (i+1)%3 == 0 && took < slow {
			t.Fatalf("request %d answered after %v, want at least %v", i+1, took, slow)
		}
	}
	m11, o := scheduleStats(t, addr)
	if m11 != 6 || o.Requests != 6 || o.Status[429] != 3 || o.Throttled != 3 || o.Delayed != 2 || o.InFlight != 0 || o.MaxInFlight != 1 {
		t.Fatalf("M11 calls %d, observed %+v", m11, o)
	}
}

// TestAdminSchedule sets, uses and clears a schedule through the admin
// API.
func TestAdminSchedule(t *testing.T) {
	addr, key := startMirakl(t)
	post := func(body string) int {
		t.Helper()
		resp, err := http.Post("http://"+addr+"/_admin/mirakl/schedule", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, bad := range []string{
		`{"every":1,"status":503}`,
		`[{"every":0,"status":503}]`,
		`[{"every":1,"delay":"soon"}]`,
		`[{"every":1,"status":429,"retry_after":"later"}]`,
		`[{"every":1,"status":503,"nope":true}]`,
		`[{"every":1}]`,
	} {
		if code := post(bad); code != http.StatusBadRequest {
			t.Fatalf("schedule %s: %d, want 400", bad, code)
		}
	}
	if code := post(`[{"every":2,"status":503,"retry_after":"2"},{"every":3,"truncate":true,"delay":"1ms"}]`); code != http.StatusNoContent {
		t.Fatalf("schedule: %d", code)
	}
	for i, want := range []int{200, 503, 200, 503} {
		resp, _, err := listThreads(t, addr, key)
		switch {
		case resp.StatusCode != want:
			t.Fatalf("request %d: %d, want %d", i+1, resp.StatusCode, want)
		case want == 503 && (err != nil || resp.Header.Get("Retry-After") != "2"):
			t.Fatalf("request %d: %v, %v", i+1, resp.Header, err)
		case i == 2 && !errors.Is(err, io.ErrUnexpectedEOF):
			t.Fatalf("request 3: %v, want a body cut short", err)
		case i != 2 && err != nil:
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, "http://"+addr+"/_admin/mirakl/schedule", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /schedule: %v %v", resp, err)
	}
	resp.Body.Close()
	for i := range 2 {
		if resp, _, err := listThreads(t, addr, key); err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d after DELETE: %d %v", i+5, resp.StatusCode, err)
		}
	}
	m11, o := scheduleStats(t, addr)
	if m11 != 6 || o.Requests != 6 || o.Status[503] != 2 || o.Truncated != 1 || o.Delayed != 1 || o.Throttled != 0 {
		t.Fatalf("M11 calls %d, observed %+v", m11, o)
	}
}

func TestScheduleFlags(t *testing.T) {
	const d = 3 * time.Second
	throttle := func(every int) sim.Rule {
		return sim.Rule{Every: every, Status: http.StatusTooManyRequests, RetryAfter: "1"}
	}
	for name, c := range map[string]struct {
		throttleEvery, slowEvery int
		want                     []sim.Rule
	}{
		"none":     {0, 0, nil},
		"throttle": {4, 0, []sim.Rule{throttle(4)}},
		"slow":     {0, 5, []sim.Rule{{Every: 5, Delay: d}}},
		"both":     {4, 6, []sim.Rule{{Every: 12, Status: 429, RetryAfter: "1", Delay: d}, throttle(4), {Every: 6, Delay: d}}},
		"huge lcm": {math.MaxInt, math.MaxInt - 1, []sim.Rule{throttle(math.MaxInt), {Every: math.MaxInt - 1, Delay: d}}},
	} {
		got := scheduleFlags(c.throttleEvery, c.slowEvery, d)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
		if err := sim.CheckRules(got...); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
