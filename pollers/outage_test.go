package pollers_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestOutages stops Redis, then the NATS server, then both, in the middle
// of live traffic; threadsync keeps running, says what it waits for, and
// once they are back delivers every event exactly once. The outage lasts
// 3 s here and 30 s under `make chaos`.
func TestOutages(t *testing.T) {
	t.Parallel()
	outage := 3 * time.Second
	if os.Getenv("THREADSYNC_CHAOS") == "full" {
		outage = 30 * time.Second
	}
	red := checkpointtest.StartServer(t)
	store, err := checkpoint.New(red.Client(t, func(o *redis.Options) { o.DialTimeout = 200 * time.Millisecond }), "outage")
	if err != nil {
		t.Fatal(err)
	}
	w := pollerstest.NewWorld(t)
	js := w.JS
	pub, err := events.NewPublisher(js.Conn, events.PublisherConfig{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}

	h := pollerstest.NewSimHarness(pollerstest.Mirakl)
	var accts []pollers.Account
	threads := map[string][]string{}
	for i := range 3 {
		a := h.NewAccount(t, fmt.Sprintf("out-%d", i), 5)
		a.PollInterval = 50 * time.Millisecond
		threads[a.ID] = pollerstest.OpenThreads(t, h, a, 6)
		accts = append(accts, a)
	}
	logs := w.Logs
	e := w.Engine(pollers.Config{
		Store: store, Publisher: pub, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}, accts...)
	stop := w.Run(e)

	expected := func() map[string]bool {
		want := map[string]bool{}
		for _, a := range accts {
			o := events.Origin{Prefix: js.Prefix, Provider: a.Provider, Account: a.ID}
			for _, th := range h.Truth(t, a) {
				want[events.NewThreadCreated(o, events.Thread{ID: th.ID}).ID] = true
				for _, m := range th.Messages {
					want[events.NewMessageReceived(o, th.ID, events.Message{ID: m.ID}).ID] = true
				}
			}
		}
		return want
	}
	// until polls cond every 20ms; the engine offers no finer signal for
	// "a dependency came back and the backlog is through".
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(outage + 60*time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	delivered := func() bool {
		return countOf(js, events.ThreadCreated, events.MessageReceived) == len(expected()) && len(e.Waiting()) == 0
	}
	traffic := func() {
		for _, a := range accts {
			for _, th := range threads[a.ID][:2] {
				h.AddMessage(t, a, th, events.Inbound, "anyone?")
			}
		}
	}
	until("the initial sync", delivered)

	phases := []struct {
		name, waitFor string
		stop, start   func()
	}{
		{"redis", "Redis", red.Stop, red.Start},
		{"nats", "NATS JetStream", js.Stop, func() { js.Start(t) }},
		{"both", "Redis", func() { js.Stop(); red.Stop() }, func() { red.Start(); js.Start(t) }},
	}
	for _, p := range phases {
		traffic()
		p.stop()
		traffic()
		until(p.name+": the engine saying it waits for "+p.waitFor, func() bool {
			_, ok := e.Waiting()[p.waitFor]
			return ok
		})
		<-time.After(outage)
		p.start()
		until(p.name+": recovery", delivered)
	}
	stop()

	got := js.ReadAll(t)
	want := expected()
	seen := map[string]int{}
	for _, r := range got {
		seen[r.Envelope.ID]++
	}
	missing, dups := 0, 0
	for id := range want {
		if seen[id] == 0 {
			missing++
		}
	}
	for _, n := range seen {
		dups += n - 1
	}
	fmt.Printf("outages: redis=1 nats=1 both=1 each=%s expected=%d stream=%d missing=%d duplicated=%d\n", outage, len(want), len(got), missing, dups)
	if missing != 0 || dups != 0 {
		t.Fatalf("missing %d, duplicated %d", missing, dups)
	}
	if l := logs.String(); !strings.Contains(l, "waiting for Redis") || !strings.Contains(l, "Redis reachable again") {
		t.Fatalf("the log does not say what it waited for:\n%s", l)
	}
}

// countOf counts the stream's messages of the given event types; -1 while
// the server is restarting.
func countOf(js *eventstest.Env, types ...events.Type) int {
	n, err := js.CountOf(types...)
	if err != nil {
		return -1
	}
	return n
}
