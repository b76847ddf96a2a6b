package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestRunProcess runs the real binary against a simulated shop, a real Redis
// and a real JetStream: it publishes the whole inbox, and on SIGTERM it
// commits, says so and exits 0 without leaking the key into its log.
func TestRunProcess(t *testing.T) {
	t.Parallel()
	shop := pollerstest.NewShop(t, 30, 3, nil)
	b := newBacking(t)
	js := b.js
	// The shop's key comes from the environment, as ${SHOP_KEY}.
	first := shop.Account("shop-2001", map[string]string{"page_size": "7"})
	first.Token = "${SHOP_KEY}"
	// writeAccounts lists the shop, and the accounts in extra after it.
	writeAccounts := func(extra string) { b.writeAccounts("accounts:\n" + accountEntry(first) + extra) }
	writeAccounts("")

	ts := startProc(t, "threadsync", b.env("SHOP_KEY="+shop.Key, "THREADSYNC_LOG_LEVEL=debug"), "run")
	// Ready before any signal: a SIGHUP that came before the process
	// installed its handler would kill it.
	ts.waitReady()

	// expected is the number of events a shop's inbox implies.
	expected := func(id string) uint64 { return uint64(pollerstest.Expect(shop.Truth(id)).Events()) }
	total := expected(pollerstest.MiraklShop)

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
	shop.AddShop("2002", key2)
	shop.Seed("2002", 4, 2, time.Time{})
	total += expected("2002")
	writeAccounts(accountEntry(pollers.Account{Provider: first.Provider, ID: "shop-2002", BaseURL: shop.URL, Token: key2,
		Options: map[string]string{"shop_id": "2002"}}))
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
	if strings.Contains(out, shop.Key) || strings.Contains(out, key2) {
		t.Fatal("the log contains an API key")
	}
	// The lease was released on the way out.
	if n, _ := b.rdb.Exists(context.Background(), b.prefix+":{mirakl:shop-2001}:lease").Result(); n != 0 {
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
