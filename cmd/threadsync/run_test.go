package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestRunProcess runs the real binary against a simulated shop, a real Redis
// and a real JetStream: it publishes the whole inbox, and on SIGTERM it
// commits, says so and exits 0 without leaking the key into its log.
func TestRunProcess(t *testing.T) {
	t.Parallel()
	sim := miraklsim.New(miraklsim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const key = "proc-test-key-7c0ffee7c0ffee"
	sim.AddShop("2001", key)
	sim.Seed("2001", 30, 3, time.Time{})

	js := eventstest.Start(t)
	rdb := checkpointtest.Redis(t)
	prefix := checkpointtest.Prefix(t, rdb)
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.yaml")
	// writeAccounts lists the shop, and the accounts in extra after it.
	writeAccounts := func(extra string) {
		t.Helper()
		if err := os.WriteFile(accounts, []byte(fmt.Sprintf(`accounts:
  - provider: mirakl
    id: shop-2001
    base_url: %s
    token: ${SHOP_KEY}
    poll_interval: 100ms
    options:
      shop_id: "2001"
      page_size: "7"
%s`, srv.URL, extra)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeAccounts("")

	ts := startProc(t, "threadsync", append(os.Environ(),
		"SHOP_KEY="+key,
		"NATS_URL="+js.URL,
		"REDIS_URL="+checkpointtest.URL(),
		"THREADSYNC_ACCOUNTS="+accounts,
		"THREADSYNC_KEY_PREFIX="+prefix,
		"THREADSYNC_LOG_LEVEL=debug",
		"THREADSYNC_HTTP_ADDR=127.0.0.1:0",
	), "run")
	// Ready before any signal: a SIGHUP that came before the process
	// installed its handler would kill it.
	ts.waitReady()

	// expected is the number of events a shop's inbox implies.
	expected := func(shop string) uint64 {
		var truth []pollerstest.Thread
		for _, th := range sim.Threads(shop) {
			pt := pollerstest.Thread{ID: th.ID}
			for _, m := range th.Messages {
				pt.Messages = append(pt.Messages, pollerstest.Message{ID: m.ID, Direction: events.Direction(m.Direction)})
			}
			truth = append(truth, pt)
		}
		want := pollerstest.Expect(truth)
		return uint64(want.Created + want.Messages + want.Replies)
	}
	total := expected("2001")

	// The stream's message count is the signal that the sync is done.
	streamHolds := func(n uint64) func() bool { return func() bool { return js.Count(t) >= n } }
	waitFor(t, "the shop's inbox on the stream", 60*time.Second, streamHolds(total), ts)
	// Health endpoints: ready, and the account is fine.
	var ready struct {
		Ready bool `json:"ready"`
	}
	if code := getJSON(t, ts.health+"/readyz", &ready); code != http.StatusOK || !ready.Ready {
		t.Fatalf("/readyz: %d %+v", code, ready)
	}
	var status []pollers.AccountStatus
	getJSON(t, ts.health+"/status", &status)
	if len(status) != 1 || status[0].Account != "mirakl/shop-2001" || status[0].State == "failing" {
		t.Fatalf("/status: %+v", status)
	}
	// SIGHUP reloads the accounts file: a second shop joins.
	const key2 = "proc-test-key-2-5ca1ab1e5ca1ab1e"
	sim.AddShop("2002", key2)
	sim.Seed("2002", 4, 2, time.Time{})
	total += expected("2002")
	writeAccounts(fmt.Sprintf(`  - provider: mirakl
    id: shop-2002
    base_url: %s
    token: %s
    poll_interval: 100ms
    options:
      shop_id: "2002"
`, srv.URL, key2))
	ts.signal(syscall.SIGHUP)
	// The reload line is written after the new account has started, so
	// it can come after the account's events: both are waited for.
	waitFor(t, "the second shop's inbox on the stream after SIGHUP", 60*time.Second, streamHolds(total), ts)
	ts.waitLog(`msg="accounts reloaded" accounts=2 added=1 removed=0 changed=0`)
	// A broken file is reported and changes nothing.
	writeAccounts("  - provider: mirakl\n    id: bad.id\n")
	ts.signal(syscall.SIGHUP)
	ts.waitLog("accounts file not reloaded")
	getJSON(t, ts.health+"/status", &status)
	if len(status) != 2 {
		t.Fatalf("after a refused reload /status lists %d accounts, want 2: %+v", len(status), status)
	}

	ts.stop()
	got := js.ReadAll(t)
	if uint64(len(got)) != total {
		t.Fatalf("stream holds %d events, want %d", len(got), total)
	}
	out := ts.logs.String()
	if !strings.Contains(out, "every page in hand was committed") {
		t.Fatalf("no clean-stop line in the log:\n%s", out)
	}
	if strings.Contains(out, key) || strings.Contains(out, key2) {
		t.Fatal("the log contains an API key")
	}
	// The lease was released on the way out.
	if n, _ := rdb.Exists(context.Background(), prefix+":{mirakl:shop-2001}:lease").Result(); n != 0 {
		t.Fatal("lease still held after a clean stop")
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}
