package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers/mirakl/mirakltest"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

var eventsDone = regexp.MustCompile(`msg="poll done" account=\S+ pages=\d+ threads=\d+ changed=\d+ events=(\d+)`)

// published sums the events a process's log says it published.
func published(log string) int {
	n := 0
	for _, m := range eventsDone.FindAllStringSubmatch(log, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

// TestTwoWorkersOneAccount runs two real processes on the same account:
// one works, the other stands by; only one ever publishes a page, and when
// the first stops, the second takes over.
func TestTwoWorkersOneAccount(t *testing.T) {
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	h := mirakltest.NewHarness()
	a := h.NewAccount(t, "shared", 5)
	for i := range 30 {
		th := h.AddThread(t, a, fmt.Sprintf("q%d", i))
		h.AddMessage(t, a, th, events.Outbound, "a")
	}
	js := eventstest.Start(t)
	rdb := checkpointtest.Redis(t)
	prefix := checkpointtest.Prefix(t, rdb)
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	yaml := fmt.Sprintf("accounts:\n  - provider: %s\n    id: %s\n    base_url: %s\n    token: %q\n    poll_interval: 100ms\n    options:\n      shop_id: %q\n      page_size: \"5\"\n",
		a.Provider, a.ID, a.BaseURL, a.Token, a.Options["shop_id"])
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	type proc struct {
		cmd  *exec.Cmd
		done chan error
		logs *pollerstest.Buffer
	}
	start := func() *proc {
		p := &proc{cmd: exec.Command(bin, "run"), done: make(chan error, 1), logs: &pollerstest.Buffer{}}
		p.cmd.Env = append(os.Environ(), "NATS_URL="+js.URL, "REDIS_URL="+checkpointtest.URL(),
			"THREADSYNC_ACCOUNTS="+file, "THREADSYNC_KEY_PREFIX="+prefix, "THREADSYNC_HTTP_ADDR=",
			"THREADSYNC_LEASE_TTL=2s", "THREADSYNC_LOG_LEVEL=debug")
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.done <- p.cmd.Wait() }()
		t.Cleanup(func() { _ = p.cmd.Process.Kill() })
		return p
	}
	waitFor := func(n uint64, ps ...*proc) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for js.Count(t) < n {
			select {
			case <-ctx.Done():
				t.Fatalf("stream holds %d of %d events\nA:\n%s\nB:\n%s", js.Count(t), n, ps[0].logs, ps[1].logs)
			case <-tick.C:
			}
		}
	}
	stop := func(p *proc) {
		t.Helper()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-p.done; err != nil {
			t.Fatalf("exit: %v\n%s", err, p.logs)
		}
	}

	x, y := start(), start()
	want := pollerstest.Expect(h.Truth(t, a))
	total := uint64(want.Created + want.Messages + want.Replies)
	waitFor(total, x, y)
	// Wait for a standby line: both processes have polled by then.
	for !strings.Contains(x.logs.String()+y.logs.String(), "standing by") {
		select {
		case err := <-x.done:
			t.Fatalf("A exited: %v", err)
		case err := <-y.done:
			t.Fatalf("B exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	px, py := published(x.logs.String()), published(y.logs.String())
	if px+py != int(total) || (px != 0 && py != 0) {
		t.Fatalf("A published %d and B %d events for %d distinct: both advanced the account", px, py, total)
	}
	leader, standby := x, y
	if py > 0 {
		leader, standby = y, x
	}
	// The leader stops (releasing its lease); the other takes over.
	stop(leader)
	th := h.Truth(t, a)[0].ID
	h.AddMessage(t, a, th, events.Inbound, "hello again")
	waitFor(total+2, x, y) // the message and its ReplyNeeded
	if published(standby.logs.String()) != 2 {
		t.Fatalf("the remaining worker published %d events, want 2\n%s", published(standby.logs.String()), standby.logs)
	}
	stop(standby)
	if n := js.Count(t); n != total+2 {
		t.Fatalf("stream holds %d events, want %d", n, total+2)
	}
}
