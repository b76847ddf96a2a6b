package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/internal/accountsfile"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestQuotaAccounts: the README's HubSpot example of two inboxes of one
// portal sharing a quota is accepted with the worker's store, and two
// rates for one quota are refused, naming the accounts and the quota.
func TestQuotaAccounts(t *testing.T) {
	t.Parallel()
	store, _ := checkpointtest.NewStore(t)
	cfg, err := LoadConfig(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		if k == "HUBSPOT_42" {
			return "pat-na1-test", true
		}
		return "", false
	}
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	load := func(rateB string) error {
		t.Helper()
		// The README's example, as written there.
		account := func(id, inbox, rate string) string {
			return "  - provider: hubspot\n    id: " + id + "\n    base_url: https://api.hubapi.com\n    token: ${HUBSPOT_42}\n" +
				"    options: {inbox_ids: \"" + inbox + "\", quota: hubspot-portal-42, requests_per_second: \"" + rate + "\"}\n"
		}
		text := "accounts:\n" + account("portal-42-sales", "1001", "6") + account("portal-42-support", "1002", rateB)
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		accounts, err := accountsfile.Load(file, env, cfg.PollInterval)
		if err != nil {
			t.Fatal(err)
		}
		_, err = newEngine(cfg, accounts, store, (*events.Publisher)(nil), nil, nil, slog.New(slog.NewTextHandler(&pollerstest.Buffer{}, nil)))
		return err
	}
	if err := load("6"); err != nil {
		t.Fatalf("two accounts of one quota: %v", err)
	}
	err = load("9")
	if err == nil || !strings.Contains(err.Error(), "hubspot-portal-42") || !strings.Contains(err.Error(), "portal-42-support") {
		t.Fatalf("two rates for one quota: %v, want an error naming the quota and the account", err)
	}
}
