package main

import (
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/internal/ops"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// runCommand runs a threadsync command to its end and returns its output; it
// fails the test unless the command exits with code.
func runCommand(t *testing.T, env []string, code int, args ...string) string {
	t.Helper()
	p := startProc(t, strings.Join(args, " "), env, args...)
	p.waitExit(code, 60*time.Second)
	return p.logs.String()
}

// published reports whether the stream holds an event of type typ of the
// account about the thread.
func published(t *testing.T, js *eventstest.Env, account string, typ events.Type, thread string) bool {
	for _, r := range js.ReadAll(t) {
		if r.Envelope.Type == typ && r.Envelope.Subject == thread && strings.Contains(r.Subject, ".mirakl."+account+".") {
			return true
		}
	}
	return false
}

// ofAccount counts the stream's events of the account by type, and fails
// the test if one id is there twice.
func ofAccount(t *testing.T, js *eventstest.Env, account string) map[events.Type]int {
	t.Helper()
	n := map[events.Type]int{}
	ids := map[string]bool{}
	for _, r := range js.ReadAll(t) {
		if ids[r.MsgID] {
			t.Fatalf("%s %s on the stream twice", r.Envelope.Type, r.MsgID)
		}
		ids[r.MsgID] = true
		if strings.Contains(r.Subject, ".mirakl."+account+".") {
			n[r.Envelope.Type]++
		}
	}
	return n
}

// TestOperatorCommands drives a running worker with the operator commands,
// each its own process: pause (no request, no event for that account while
// another goes on), accounts, resume, sync-now, and reset both ways.
func TestOperatorCommands(t *testing.T) {
	t.Parallel()
	b := newBacking(t)
	shopA, shopB, shopC := pollerstest.NewShop(t, 4, 2, nil), pollerstest.NewShop(t, 4, 2, nil), pollerstest.NewShop(t, 2, 2, nil)
	a, bb, c := shopA.Account("a", nil), shopB.Account("b", nil), shopC.Account("c", nil)
	// c polls once an hour: only sync-now makes it poll again.
	b.writeAccounts("accounts:\n" + accountEntry(a) + accountEntry(bb) + strings.Replace(accountEntry(c), "poll_interval: 100ms", "poll_interval: 1h", 1))
	env := b.env()
	ts := startProc(t, "worker", env, "run")
	ts.waitReady()
	total := func(s *pollerstest.Shop) int { return pollerstest.Expect(s.Truth(pollerstest.MiraklShop)).Events() }
	waitFor(t, "the three shops synced", 60*time.Second, func() bool { return int(b.js.Count(t)) >= total(shopA)+total(shopB)+total(shopC) }, ts)

	// pause
	out := runCommand(t, env, 0, "pause", "mirakl/a", "--reason", "offboarding", "--by", "ana@ops")
	if !strings.Contains(out, "mirakl/a paused") {
		t.Fatalf("pause said:\n%s", out)
	}
	runCommand(t, env, 1, "pause", "mirakl/nope")
	runCommand(t, env, 2, "pause")
	states := func() map[string]ops.State {
		m := map[string]ops.State{}
		for _, line := range strings.Split(strings.TrimSpace(runCommand(t, env, 0, "accounts", "--json")), "\n") {
			var s ops.State
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				t.Fatalf("accounts --json line %q: %v", line, err)
			}
			m[s.Account] = s
		}
		return m
	}
	waitFor(t, "a's lease given up", 30*time.Second, func() bool { return states()["mirakl/a"].Holder == "" }, ts)
	list, msgs := shopA.Requests()
	newA := shopA.Open(pollerstest.MiraklShop, "still open?")
	newB := shopB.Open(pollerstest.MiraklShop, "hello?")
	waitFor(t, "b's new thread published", 30*time.Second, func() bool { return published(t, b.js, "b", events.ThreadCreated, newB) }, ts)
	bl, _ := shopB.Requests()
	waitFor(t, "b polled twice more", 30*time.Second, func() bool { l, _ := shopB.Requests(); return l >= bl+2 }, ts)
	if l, m := shopA.Requests(); l != list || m != msgs {
		t.Fatalf("paused a sent requests: list %d→%d, messages %d→%d", list, l, msgs, m)
	}
	if published(t, b.js, "a", events.ThreadCreated, newA) {
		t.Fatal("paused a published its new thread")
	}
	st := states()
	if p := st["mirakl/a"].Paused; p == nil || p.By != "ana@ops" || p.Reason != "offboarding" || st["mirakl/b"].Holder == "" || !st["mirakl/b"].Synced {
		t.Fatalf("accounts while a is paused: %+v", st)
	}
	if table := runCommand(t, env, 0, "accounts"); !strings.Contains(table, "paused (ana@ops: offboarding)") {
		t.Fatalf("accounts table:\n%s", table)
	}

	// resume
	runCommand(t, env, 0, "resume", "mirakl/a")
	waitFor(t, "a's new thread published after resume", 30*time.Second, func() bool { return published(t, b.js, "a", events.ThreadCreated, newA) }, ts)
	if n := ofAccount(t, b.js, "a"); n[events.AccountPaused] != 1 || n[events.AccountResumed] != 1 {
		t.Fatalf("a's account events: %v", n)
	}

	// sync-now
	newC := shopC.Open(pollerstest.MiraklShop, "anyone?")
	asked := time.Now()
	runCommand(t, env, 0, "sync-now", "mirakl/c")
	waitFor(t, "c's new thread published after sync-now", 30*time.Second, func() bool { return published(t, b.js, "c", events.ThreadCreated, newC) }, ts)
	t.Logf("sync-now to the event on the stream: %s (the command's start and exit included)", time.Since(asked).Round(time.Millisecond))

	// reset --full: b's whole inbox is published again (JetStream drops
	// the copies within its window, so the worker's count says it).
	before := ts.metricSum("threadsync_events_total")
	runCommand(t, env, 2, "reset", "mirakl/b", "--full") // not a terminal, no --yes
	if out := runCommand(t, env, 0, "reset", "mirakl/b", "--full", "--yes"); !strings.Contains(out, "reset done") {
		t.Fatalf("reset --full said:\n%s", out)
	}
	waitFor(t, "b published again", 30*time.Second, func() bool { return ts.metricSum("threadsync_events_total") >= before+total(shopB) }, ts)
	// reset --from-now: a records its inbox again silently, then goes on.
	if out := runCommand(t, env, 0, "reset", "mirakl/a", "--from-now", "--yes"); !strings.Contains(out, "reset done") {
		t.Fatalf("reset --from-now said:\n%s", out)
	}
	later := shopA.Open(pollerstest.MiraklShop, "after the reset")
	waitFor(t, "a's thread after the reset published", 30*time.Second, func() bool { return published(t, b.js, "a", events.ThreadCreated, later) }, ts)
	ofAccount(t, b.js, "a")
	ts.stop()
}

// TestBackfillCommand: a from_now shop publishes nothing of its inbox; the
// backfill command then has it published, exactly, though the worker
// doing it is killed half-way and another takes over; the command shows
// its progress meanwhile.
func TestBackfillCommand(t *testing.T) {
	t.Parallel()
	b := newBacking(t)
	shop := pollerstest.NewShop(t, 40, 2, nil)
	a := shop.Account("d", map[string]string{"page_size": "2", "requests_per_second": "30"})
	b.writeAccounts("accounts:\n" + accountEntry(a, "initial_sync: from_now"))
	// The killed worker's lease lapses soon, so that the next one takes over.
	env := b.env("THREADSYNC_LEASE_TTL=2s")
	w1 := startProc(t, "worker 1", env, "run")
	w1.waitReady()
	store, err := checkpoint.New(b.rdb, b.prefix)
	if err != nil {
		t.Fatal(err)
	}
	ck := checkpoint.Account{Provider: "mirakl", ID: "d"}
	waitFor(t, "d synced silently", 60*time.Second, func() bool {
		in, err := store.Inspect(context.Background(), ck)
		return err == nil && in.Cursor.Synced
	}, w1)
	if n := b.js.Count(t); n != 0 {
		t.Fatalf("from_now start published %d events", n)
	}

	bf := startProc(t, "backfill", env, "backfill", "mirakl/d")
	waitFor(t, "backfill half-way", 60*time.Second, func() bool {
		p, err := store.Backfill(context.Background(), ck)
		return err == nil && p != nil && p.Walked >= 10 && p.Done.IsZero()
	}, w1, bf)
	w1.signal(syscall.SIGKILL)
	<-w1.exited
	w2 := startProc(t, "worker 2", env, "run")
	bf.waitExit(0, 120*time.Second)
	out := bf.logs.String()
	if !strings.Contains(out, "threads walked") || !strings.Contains(out, "backfill done: 40 threads with history") {
		t.Fatalf("backfill said:\n%s\nworker 2:\n%s", out, w2)
	}
	n := ofAccount(t, b.js, "d")
	msgs := 0
	for _, th := range shop.Truth(pollerstest.MiraklShop) {
		msgs += len(th.Messages)
	}
	if n[events.ThreadCreated] != 40 || n[events.MessageReceived] != msgs || n[events.ReplyNeeded] != 0 {
		t.Fatalf("after the backfill the stream holds %v, want 40 ThreadCreated, %d MessageReceived, no ReplyNeeded", n, msgs)
	}
}

// TestStateLostProcess: a worker synced an account; Redis then loses
// everything (FLUSHALL of the test's own redis-server), or the worker is
// started under another key prefix. With a duplicate window of one second,
// long past, the new start publishes no copy of an old event, says
// AccountStateLost, and publishes a message written afterwards.
func TestStateLostProcess(t *testing.T) {
	t.Parallel()
	for _, lose := range []string{"FLUSHALL", "new key prefix"} {
		t.Run(lose, func(t *testing.T) {
			t.Parallel()
			b := newBacking(t)
			srv := checkpointtest.StartServer(t)
			rdb := srv.Client(t)
			shop := pollerstest.NewShop(t, 6, 2, nil)
			b.writeAccounts("accounts:\n" + accountEntry(shop.Account("e", nil)))
			env := b.env("REDIS_URL="+srv.URL(), "THREADSYNC_DUPLICATE_WINDOW=1s")
			// The stream of the backing keeps copies out for an hour; this
			// test wants them kept for one second.
			b.js.SetDuplicates(t, time.Second)
			w1 := startProc(t, "worker 1", env, "run")
			w1.waitReady()
			want := pollerstest.Expect(shop.Truth(pollerstest.MiraklShop)).Events()
			waitFor(t, "synced", 60*time.Second, func() bool { return int(b.js.Count(t)) >= want }, w1)
			w1.stop()
			before := ofAccount(t, b.js, "e")

			if lose == "FLUSHALL" {
				if err := rdb.FlushAll(context.Background()).Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				env = append(env, "THREADSYNC_KEY_PREFIX="+b.prefix+"-renamed")
			}
			time.Sleep(1500 * time.Millisecond) // the duplicate window must pass; nothing signals it
			w2 := startProc(t, "worker 2", env, "run")
			w2.waitReady()
			waitFor(t, "AccountStateLost", 30*time.Second, func() bool { n, _ := b.js.CountOf(events.AccountStateLost); return n == 1 }, w2)
			th := shop.Truth(pollerstest.MiraklShop)[0].ID
			shop.Write(pollerstest.MiraklShop, th, events.Inbound, "after the loss")
			waitFor(t, "the message written after the loss", 30*time.Second, func() bool {
				return ofAccount(t, b.js, "e")[events.MessageReceived] == before[events.MessageReceived]+1
			}, w2)
			w2.stop()
			after := ofAccount(t, b.js, "e")
			for _, typ := range []events.Type{events.ThreadCreated, events.MessageReceived} {
				grew := 0
				if typ == events.MessageReceived {
					grew = 1
				}
				if after[typ] != before[typ]+grew {
					t.Fatalf("%s: %d before the loss, %d after (want %d more)", typ, before[typ], after[typ], grew)
				}
			}
			if !strings.Contains(w2.logs.String(), "state is gone from Redis") {
				t.Fatalf("worker 2 did not log the loss:\n%s", w2)
			}
		})
	}
}
