package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
)

// backing is what the threadsync processes of a test run on: a JetStream
// of the test's own, the test Redis under a key prefix of its own, and an
// accounts file.
type backing struct {
	t      *testing.T
	js     *eventstest.Env
	rdb    *redis.Client
	prefix string
	file   string
}

func newBacking(t *testing.T) *backing {
	t.Helper()
	rdb := checkpointtest.Redis(t)
	return &backing{t: t, js: eventstest.Start(t), rdb: rdb, prefix: checkpointtest.Prefix(t, rdb),
		file: filepath.Join(t.TempDir(), "accounts.yaml")}
}

// writeAccounts writes the accounts file.
func (b *backing) writeAccounts(text string) {
	b.t.Helper()
	if err := os.WriteFile(b.file, []byte(text), 0o600); err != nil {
		b.t.Fatal(err)
	}
}

// env is the environment of a process on the backing: the test's own, the
// backing's NATS, Redis, accounts file and key prefix, a health address of
// the process's choosing (see waitReady), then extra. A variable set in
// extra wins, as exec passes on the last of a repeated one.
func (b *backing) env(extra ...string) []string {
	return append(os.Environ(), slices.Concat([]string{
		"NATS_URL=" + b.js.URL, "REDIS_URL=" + checkpointtest.URL(), "THREADSYNC_ACCOUNTS=" + b.file,
		"THREADSYNC_KEY_PREFIX=" + b.prefix, "THREADSYNC_HTTP_ADDR=127.0.0.1:0",
	}, extra)...)
}

// accountEntry is a's entry in an accounts file, polled every 100ms, with
// lines (such as "sla: gold") beside its fields.
func accountEntry(a pollers.Account, lines ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - provider: %s\n    id: %s\n    base_url: %s\n    token: %q\n    poll_interval: 100ms\n",
		a.Provider, a.ID, a.BaseURL, a.Token)
	for _, l := range lines {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	if len(a.Options) > 0 {
		b.WriteString("    options:\n")
		for _, k := range slices.Sorted(maps.Keys(a.Options)) {
			fmt.Fprintf(&b, "      %s: %q\n", k, a.Options[k])
		}
	}
	return b.String()
}
