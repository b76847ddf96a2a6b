package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
)

// TestServeHubSpot runs providersim with HubSpot accounts only and reads one
// through the accounts file it wrote, then breaks it through the admin API.
func TestServeHubSpot(t *testing.T) {
	var logs syncBuffer
	srv := serve(t, &logs, "-mirakl-shops", "0", "-hubspot-accounts", "1", "-seed-threads", "5", "-rate", "0")
	addr, file := srv.addr, srv.accounts

	tok := regexp.MustCompile(`token: "(pat-na1-[0-9a-f-]{36})"`).FindStringSubmatch(string(file))
	if tok == nil || !strings.Contains(string(file), "id: portal-24000001\n") ||
		!strings.Contains(string(file), "base_url: http://"+addr+"/hubspot\n") || !strings.Contains(string(file), `timezone: "UTC"`) {
		t.Fatalf("accounts file:\n%s", file)
	}

	get := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/hubspot/conversations/v3/conversations/threads", nil)
		req.Header.Set("Authorization", "Bearer "+tok[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get()
	var page struct{ Results []json.RawMessage }
	err := json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(page.Results) != 5 {
		t.Fatalf("threads: status %d, %d threads, %v", resp.StatusCode, len(page.Results), err)
	}

	for _, bad := range []string{`{"endpoint":"inbox"}`, `{"policy":"HOURLY"}`, `{"nope":1}`} {
		resp, err = http.Post("http://"+addr+"/_admin/hubspot/faults", "application/json", strings.NewReader(bad))
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("bad fault %s: %v %v", bad, resp, err)
		}
		resp.Body.Close()
	}
	resp, err = http.Post("http://"+addr+"/_admin/hubspot/faults", "application/json",
		strings.NewReader(`{"endpoint":"threads","status":429,"policy":"DAILY","times":1}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("inject fault: %v %v", resp, err)
	}
	resp.Body.Close()
	resp = get()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"policyName":"DAILY"`) {
		t.Fatalf("after fault injection: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + addr + "/_admin/hubspot/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st hubspotsim.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.ThreadsCalls != 2 || st.Faults != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}

	srv.stop(t)
	if strings.Contains(logs.String(), tok[1]) {
		t.Fatal("a token appears in the log")
	}
}

func TestHubSpotFlagsRejected(t *testing.T) {
	for _, args := range [][]string{
		{"-hubspot-accounts", "-1", "-listen", "127.0.0.1:0"},
		{"-hubspot-daily-limit", "-5", "-listen", "127.0.0.1:0"},
	} {
		if err := run(context.Background(), args, io.Discard, nil); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}
