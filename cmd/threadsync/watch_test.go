package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/internal/accountsfile"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestWatchAccounts follows the accounts file: a change is picked up on the
// timer, a SIGHUP reloads at once, a broken file changes nothing and is
// reported once, not on every tick.
func TestWatchAccounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.yaml")
	tokenFile := filepath.Join(dir, "token")
	// write replaces a file at once, as Kubernetes updates a mounted
	// ConfigMap or Secret, so the watcher never reads half a file.
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path+".new", []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	account := func(id string) string {
		return "  - provider: mirakl\n    id: " + id + "\n    base_url: https://acme.mirakl.net\n    token_file: token\n"
	}
	write(tokenFile, "first-token")
	write(file, "accounts:\n"+account("shop-1"))
	cfg, err := LoadConfig(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AccountsFile, cfg.AccountsReload = file, 20*time.Millisecond
	accounts, err := accountsfile.Load(file, os.LookupEnv, cfg.PollInterval)
	if err != nil {
		t.Fatal(err)
	}
	w := pollerstest.NewWorld(t)
	logs := w.Logs
	log := slog.New(slog.NewTextHandler(logs, nil))
	engine, err := newEngine(cfg, accounts, w.Store, w.JS.Publisher, nil, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		accountsfile.Watch(ctx, hup, cfg.AccountsFile, cfg.AccountsReload, cfg.PollInterval, engine, log)
	}()
	defer func() { cancel(); <-done }()

	until := w.Until
	lines := func(s string) int { return strings.Count(logs.String(), s) }

	write(file, "accounts:\n"+account("shop-1")+account("shop-2"))
	until("a second account from the timer", func() bool { return len(engine.Status()) == 2 })

	write(tokenFile, "rotated-token")
	until("a rotated token restarts both accounts", func() bool { return lines("added=0 removed=0 changed=2") == 1 })

	hup <- nil
	until("SIGHUP reloads even when nothing changed", func() bool { return lines("added=0 removed=0 changed=0") == 1 })

	write(file, "accounts:\n  - provider: mirakl\n    id: bad.id\n")
	until("the broken file is reported", func() bool { return lines("accounts file not reloaded") == 1 })
	hup <- nil
	until("SIGHUP reports it again", func() bool { return lines("accounts file not reloaded") == 2 })
	reloads := lines("accounts reloaded")
	write(file, "accounts:\n"+account("shop-2"))
	// The reload line is logged after the engine took the accounts, so it
	// is what is waited for.
	until("the fixed file is taken", func() bool { return lines("accounts reloaded") > reloads })
	if n := len(engine.Status()); n != 1 {
		t.Errorf("the fixed file lists 1 account, the engine has %d", n)
	}
	if n := lines("accounts file not reloaded"); n != 2 {
		t.Errorf("the broken file was reported %d times, want 2 (once by the timer, once by SIGHUP)\n%s", n, logs)
	}
	if lines("accounts reloaded") != reloads+1 || strings.Contains(logs.String(), "rotated-token") {
		t.Errorf("unexpected reload lines or a token in the log:\n%s", logs)
	}
}
