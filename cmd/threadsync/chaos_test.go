package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspottest"
	"github.com/threadsync/threadsync/pollers/mirakl/mirakltest"
	"github.com/threadsync/threadsync/pollers/olx/olxtest"
	"github.com/threadsync/threadsync/pollers/partizap/partizaptest"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitytest"
	"github.com/threadsync/threadsync/pollers/sim"
)

// chaosHarnesses are the providers the chaos test runs live traffic on.
func chaosHarnesses() []pollerstest.Harness {
	return []pollerstest.Harness{
		mirakltest.NewHarness(),
		olxtest.NewHarness(),
		selfcommunitytest.NewHarness(),
		partizaptest.NewHarness(),
		hubspottest.NewHarness(),
	}
}

// TestChaos kills threadsync with SIGKILL at random moments while the
// simulators take live traffic and a second worker shares the accounts,
// restarts it each time, and then checks that
// the stream holds every event the simulators' ground truth implies exactly
// once. `make test` runs a reduced form; `make chaos` (THREADSYNC_CHAOS=full)
// the full one: 20 kills, at least 5,000 messages.
func TestChaos(t *testing.T) {
	t.Parallel()
	chaos(t, "none", nil)
}

// TestChaosThrottled is TestChaos against APIs that throttle all along, as
// real ones do: every account's every 7th request is answered 429 with
// Retry-After: 1, and every 10th answer takes a second.
func TestChaosThrottled(t *testing.T) {
	t.Parallel()
	chaos(t, "throttled", []sim.Rule{
		{Every: 7, Status: http.StatusTooManyRequests, RetryAfter: "1"},
		{Every: 10, Delay: time.Second},
	})
}

// chaos runs the chaos test with the simulators answering by rules.
func chaos(t *testing.T, faults string, rules []sim.Rule) {
	kills, messages := 5, 1000
	if os.Getenv("THREADSYNC_CHAOS") == "full" {
		kills, messages = 20, 5000
	}
	js := eventstest.Start(t)
	rdb := checkpointtest.Redis(t)
	prefix := checkpointtest.Prefix(t, rdb)
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	// Accounts on every provider, each with a few threads already there.
	type live struct {
		h       pollerstest.Harness
		a       pollers.Account
		threads []string
	}
	var accounts []*live
	for _, h := range chaosHarnesses() {
		for i := range 3 {
			a := h.NewAccount(t, fmt.Sprintf("chaos-%d", i+1), 20)
			l := &live{h: h, a: a}
			for j := range 10 {
				l.threads = append(l.threads, h.AddThread(t, a, fmt.Sprintf("hello %d", j)))
			}
			h.Sustain(t, a, rules...)
			accounts = append(accounts, l)
		}
	}
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	var b strings.Builder
	b.WriteString("accounts:\n")
	for _, l := range accounts {
		fmt.Fprintf(&b, "  - provider: %s\n    id: %s\n    base_url: %s\n    token: %q\n    poll_interval: 100ms\n",
			l.a.Provider, l.a.ID, l.a.BaseURL, l.a.Token)
		if len(l.a.Options) > 0 {
			b.WriteString("    options:\n")
			for k, v := range l.a.Options {
				fmt.Fprintf(&b, "      %s: %q\n", k, v)
			}
		}
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"NATS_URL="+js.URL, "REDIS_URL="+checkpointtest.URL(), "THREADSYNC_ACCOUNTS="+file,
		"THREADSYNC_KEY_PREFIX="+prefix, "THREADSYNC_HTTP_ADDR=127.0.0.1:0", "THREADSYNC_LEASE_TTL=1s",
		"THREADSYNC_MAX_BACKOFF=1s",
	)

	// A second worker stays up throughout: the accounts move between it
	// and the one killed again and again (shares, hand-overs, lapsed
	// leases), and the guarantee must hold across both.
	replica := startProc(t, "replica", env, "run")
	// Ready before the traffic and the kills begin; and its SIGTERM at the
	// end must find it past start-up.
	replica.waitReady()

	// Live traffic: customers open threads and write, owners answer.
	var mu sync.Mutex // guards accounts' thread lists and written
	written := 0
	trafficDone := make(chan struct{})
	traffic := rand.New(rand.NewPCG(rnd.Uint64(), 8))
	go func() {
		defer close(trafficDone)
		tick := time.NewTicker(time.Duration(float64(kills) * 0.5 * float64(time.Second) / float64(messages)))
		defer tick.Stop()
		for {
			<-tick.C
			mu.Lock()
			if written >= messages {
				mu.Unlock()
				return
			}
			l := accounts[traffic.IntN(len(accounts))]
			if traffic.IntN(10) < 2 {
				l.threads = append(l.threads, l.h.AddThread(t, l.a, "new question"))
			} else {
				d := events.Inbound
				if traffic.IntN(2) == 0 {
					d = events.Outbound
				}
				l.h.AddMessage(t, l.a, l.threads[traffic.IntN(len(l.threads))], d, "message")
			}
			written++
			mu.Unlock()
		}
	}()

	for i := range kills {
		// SIGKILL at a random moment, start-up included: nothing can catch
		// it, and the guarantee must hold wherever it lands.
		p := startProc(t, fmt.Sprintf("run %d", i), env, "run")
		timer := time.NewTimer(time.Duration(100+rnd.IntN(700)) * time.Millisecond)
		select {
		case <-p.exited:
			t.Fatalf("%s exited on its own: %v\n%s", p.name, p.err, p)
		case <-replica.exited:
			t.Fatalf("the replica exited: %v\n%s", replica.err, replica)
		case <-timer.C:
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
	<-trafficDone

	// Ground truth and what it implies.
	want := map[string]string{} // event id -> description
	var expectReplies int
	for _, l := range accounts {
		o := events.Origin{Prefix: js.Prefix, Provider: l.a.Provider, Account: l.a.ID}
		for _, th := range l.h.Truth(t, l.a) {
			want[events.NewThreadCreated(o, events.Thread{ID: th.ID}).ID] = "ThreadCreated " + th.ID
			for _, m := range th.Messages {
				want[events.NewMessageReceived(o, th.ID, events.Message{ID: m.ID}).ID] = "MessageReceived " + m.ID
			}
			if pollerstest.Pending(th) {
				expectReplies++
			}
		}
	}

	// A last run, to the end: the signal is the stream holding every
	// ThreadCreated and MessageReceived the truth implies. The replica may
	// have published all of them already, so the run is also waited for
	// until ready: only then does its SIGTERM meet its handler, and the
	// stop's exit status say something.
	final := startProc(t, "final run", env, "run")
	final.waitReady()
	waitFor(t, "every thread and message on the stream", 90*time.Second, func() bool {
		return countTypes(t, js, events.ThreadCreated, events.MessageReceived) >= len(want)
	}, final, replica)
	final.stop()
	replica.stop()

	got := js.ReadAll(t)
	seen := map[string]int{}
	replies := map[string]int{} // per thread
	var unexpected []string
	for _, r := range got {
		seen[r.Envelope.ID]++
		switch r.Envelope.Type {
		case events.ReplyNeeded:
			replies[r.Envelope.Source+"/"+r.Envelope.Subject]++
		default:
			if _, ok := want[r.Envelope.ID]; !ok {
				unexpected = append(unexpected, string(r.Envelope.Type)+" "+r.Envelope.Subject)
			}
		}
	}
	missing, dups := 0, 0
	for id, what := range want {
		if seen[id] == 0 {
			missing++
			t.Errorf("missing: %s", what)
		}
	}
	for _, n := range seen {
		if n > 1 {
			dups += n - 1
		}
	}
	var requests, refused, early int64
	for _, l := range accounts {
		o := l.h.Observed(t, l.a)
		requests, refused, early = requests+o.Requests, refused+o.Status[http.StatusTooManyRequests], early+o.Early
	}
	fmt.Printf("chaos: faults=%s workers=2 kills=%d messages=%d expected=%d delivered=%d missing=%d duplicated=%d unexpected=%d reply_needed=%d pending_threads=%d requests=%d refused_429=%d early=%d\n",
		faults, kills, written, len(want), len(got)-sumValues(replies), missing, dups, len(unexpected), sumValues(replies), expectReplies, requests, refused, early)
	if missing > 0 || dups > 0 || len(unexpected) > 0 {
		t.Fatalf("missing %d, duplicated %d, unexpected %v", missing, dups, unexpected)
	}
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// countTypes counts the stream's messages of the given event types.
func countTypes(t *testing.T, js *eventstest.Env, types ...events.Type) int {
	t.Helper()
	s, err := js.JS.Stream(context.Background(), js.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(js.Prefix+".>"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for subj, c := range info.State.Subjects {
		for _, typ := range types {
			if strings.HasSuffix(subj, "."+typ.SubjectSuffix()) {
				n += int(c)
			}
		}
	}
	return n
}
