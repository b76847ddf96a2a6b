package olxsim

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	before := f.sim.AddThread(acctA, NewThread{})
	start := time.Now()
	f.sim.Seed(acctA, 10000, 4, time.Time{})
	took := time.Since(start)
	t.Logf("seeding 10,000 threads × 4 messages took %s", took)
	// Well under a second without the race detector (see BenchmarkSeed);
	// the bound leaves room for it.
	if took > 5*time.Second {
		t.Fatalf("seeding took %s", took)
	}
	truth := f.sim.Threads(acctA)
	if len(truth) != 10001 || truth[len(truth)-1].ID != before {
		t.Fatalf("%d threads, last %s; want 10001 with the older thread last", len(truth), truth[len(truth)-1].ID)
	}
	now := f.clock.Now()
	var last time.Time
	for i := len(truth) - 2; i >= 0; i-- { // seeding order
		th := truth[i]
		k := len(truth) - 2 - i // 0 for the first seeded
		if len(th.Messages) != 4 {
			t.Fatalf("thread %s has %d messages", th.ID, len(th.Messages))
		}
		unread := 0
		for j, m := range th.Messages {
			want := Interlocutor
			if j%2 == 1 && !(j == 3 && k%3 == 2) {
				want = Owner
			}
			if m.From != want {
				t.Fatalf("thread %d message %d from %v, want %v", k, j, m.From, want)
			}
			if m.At.Before(last) || m.At.After(now) {
				t.Fatalf("thread %d message %d at %v, after %v, now %v", k, j, m.At, last, now)
			}
			last = m.At
			if m.From == Interlocutor && !m.IsRead {
				unread++
			}
		}
		if unread != th.UnreadCount || (k%3 == 2) != (unread > 0) {
			t.Fatalf("thread %d: unread %d, counted %d", k, th.UnreadCount, unread)
		}
	}
	// The list pages the seeded threads like any other.
	page := f.threads(tokenA, "?offset=9999&limit=5")
	if len(page) != 2 || strconv.FormatInt(page[1].ID, 10) != before || page[0].TotalCount != 4 {
		t.Fatalf("last page %+v", page)
	}
	// Later messages come after the seeded history.
	th := truth[5000].ID
	m := f.sim.AddMessage(acctA, th, Interlocutor, "news?", time.Time{})
	if top := f.sim.Threads(acctA)[0]; top.ID != th || top.Messages[4].ID != m || top.Messages[4].At.Before(last) {
		t.Fatalf("top thread %+v", top)
	}
}

func TestSeedStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.sim.Seed(acctA, 3, 2, t0)
	truth := f.sim.Threads(acctA)
	if got := truth[2].Messages[0].At; !got.Equal(t0) {
		t.Fatalf("first seeded message at %v, want %v", got, t0)
	}
	if got := truth[0].Messages[1].At; !got.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("last seeded message at %v", got)
	}
	// Seeding more than the time since start allows squeezes the steps.
	f.sim.Seed(acctB, 100, 100, f.clock.Now().Add(-time.Minute))
	for _, th := range f.sim.Threads(acctB) {
		for _, m := range th.Messages {
			if m.At.After(f.clock.Now()) {
				t.Fatalf("message at %v, after now", m.At)
			}
		}
	}
	f.sim.Seed(acctA, 0, 5, time.Time{})
	f.sim.Seed(acctA, 2, 0, time.Time{})
	if got := len(f.sim.Threads(acctA)); got != 5 {
		t.Fatalf("%d threads", got)
	}
}

func BenchmarkSeed(b *testing.B) {
	for range b.N {
		sim := New(Config{})
		sim.AddAccount(acctA, tokenA)
		sim.Seed(acctA, 10000, 4, time.Time{})
	}
}

// BenchmarkListPage serves list pages deep in a large inbox: the cost
// does not grow with the offset.
func BenchmarkListPage(b *testing.B) {
	sim := New(Config{})
	sim.AddAccount(acctA, tokenA)
	sim.Seed(acctA, 50000, 2, time.Time{})
	a := sim.accounts.Must(acctA)
	b.ResetTimer()
	for i := range b.N {
		a.RLock()
		n := a.order.Len()
		off := (i * 7919) % n
		out := make([]wireThread, 0, 100)
		for j := n - 1 - off; j >= 0 && len(out) < 100; j-- {
			out = append(out, a.order.At(j).wire(true))
		}
		a.RUnlock()
	}
}

// Traffic performs the actions it promises, keeps the inbox consistent and
// stops when its context is done. onTraffic counts its steps, so the test
// waits on them rather than on the clock.
func TestTraffic(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddAccount(acctA, tokenA)
	sim.Seed(acctA, 20, 2, time.Time{})
	const steps = 300
	var mu sync.Mutex
	n := 0
	reached := make(chan struct{})
	sim.OnTraffic = func() {
		mu.Lock()
		defer mu.Unlock()
		if n++; n == steps {
			close(reached)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Traffic(ctx, acctA, 10000, rand.New(rand.NewPCG(1, 2))) }()
	select {
	case <-reached:
	case <-time.After(20 * time.Second):
		t.Fatal("Traffic made no progress")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	truth := sim.Threads(acctA)
	if len(truth) <= 20 {
		t.Fatalf("no new thread in %d steps", steps)
	}
	a := sim.accounts.Must(acctA)
	a.RLock()
	pending := a.pending.Len()
	a.RUnlock()
	want := 0
	for _, th := range truth {
		if len(th.Messages) > 0 && th.Messages[len(th.Messages)-1].From == Interlocutor {
			want++
		}
	}
	if pending != want {
		t.Fatalf("pending set holds %d threads, %d await a reply", pending, want)
	}

	if err := sim.Traffic(context.Background(), "nobody", 1, nil); err == nil {
		t.Fatal("Traffic on an unknown account")
	}
	if err := sim.Traffic(context.Background(), acctA, 0, nil); err == nil {
		t.Fatal("Traffic at rate 0")
	}
}

// The same seed gives the same actions.
func TestTrafficStepDeterministic(t *testing.T) {
	t.Parallel()
	run := func() []string {
		sim := New(Config{Now: func() time.Time { return t0 }})
		sim.AddAccount(acctA, tokenA)
		rnd := rand.New(rand.NewPCG(7, 8))
		var acts []string
		for range 200 {
			acts = append(acts, sim.trafficStep(sim.accounts.Must(acctA), rnd))
		}
		return acts
	}
	a, b := run(), run()
	seen := map[string]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("step %d: %q then %q", i, a[i], b[i])
		}
		seen[a[i]] = true
	}
	for _, act := range []string{actNewThread, actInterlocutor, actOwnerAnswer} {
		if !seen[act] {
			t.Errorf("no %s in 200 steps", act)
		}
	}
}
