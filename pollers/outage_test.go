package pollers_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
	ropts, _ := redis.ParseURL(red.URL())
	ropts.MaxRetries, ropts.DialTimeout = -1, 200*time.Millisecond
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	store, err := checkpoint.New(rdb, "outage")
	if err != nil {
		t.Fatal(err)
	}
	js := eventstest.Start(t)
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
		for j := range 6 {
			threads[a.ID] = append(threads[a.ID], h.AddThread(t, a, fmt.Sprintf("q%d", j)))
		}
		accts = append(accts, a)
	}
	logs := &pollerstest.Buffer{}
	e, err := pollers.New(pollers.Config{
		Store: store, Publisher: pub, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Providers: map[string]pollers.Factory{h.Provider(): h.Factory()},
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
	}, accts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

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
		return countOf(t, js, events.ThreadCreated, events.MessageReceived) == len(expected()) && len(e.Waiting()) == 0
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
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

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

// countOf counts the stream's messages of the given event types.
func countOf(t *testing.T, js *eventstest.Env, types ...events.Type) int {
	t.Helper()
	s, err := js.JS.Stream(context.Background(), js.Stream)
	if err != nil {
		return -1 // the server is restarting
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(js.Prefix+".>"))
	if err != nil {
		return -1
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
