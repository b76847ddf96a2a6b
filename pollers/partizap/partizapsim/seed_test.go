package partizapsim

import (
	"context"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.sim.Seed(vendorA, 30, 4, time.Time{})
	f.sim.Seed(vendorB, 5, 3, t0)
	threads := f.sim.Threads(vendorA)
	if len(threads) != 30 {
		t.Fatalf("%d threads", len(threads))
	}
	now := f.clock.Now()
	var prev time.Time
	for i, th := range threads {
		if len(th.Messages) != 4 {
			t.Fatalf("thread %d: %d messages", i, len(th.Messages))
		}
		for j, m := range th.Messages {
			want := "inbound"
			if j%2 == 1 && !(j == 3 && i%3 == 2) {
				want = "outbound"
			}
			if m.Direction != want || (want == "outbound") != (m.SenderID == vendorA) {
				t.Fatalf("thread %d message %d: %+v, want %s", i, j, m, want)
			}
			if !m.At.After(prev) || m.At.After(now) {
				t.Fatalf("thread %d message %d at %v (previous %v, now %v)", i, j, m.At, prev, now)
			}
			prev = m.At
		}
		if pending := th.ReplyNeededSince != nil; pending != (i%3 == 2) {
			t.Fatalf("thread %d: reply needed %v", i, th.ReplyNeededSince)
		}
		if i%3 == 2 && !th.ReplyNeededSince.Equal(th.Messages[2].At) {
			t.Fatalf("thread %d: needed since %v, want the first unanswered message's time", i, th.ReplyNeededSince)
		}
		if !th.UpdatedAt.Equal(th.Messages[3].At) {
			t.Fatalf("thread %d: updated %v", i, th.UpdatedAt)
		}
	}
	b := f.sim.Threads(vendorB)
	if len(b) != 5 || !b[0].CreatedAt.Equal(t0) || !b[0].Messages[1].At.Equal(t0.Add(time.Second)) {
		t.Fatalf("explicit start: %+v", b[0])
	}
	// The list serves the seeded threads newest first.
	if ids := f.walk(sessionA, "7"); len(ids) != 30 || ids[0] != strconv.FormatInt(threads[29].ID, 10) {
		t.Fatalf("walk: %v", ids)
	}
}

// TestSeedLarge seeds as many conversations as the benchmarks do.
func TestSeedLarge(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddVendor(vendorA, sessionA)
	sim.Seed(vendorA, 10000, 4, time.Time{})
	if n := len(sim.Threads(vendorA)); n != 10000 {
		t.Fatalf("%d threads", n)
	}
}

// BenchmarkSeed: the benchmarks seed 10,000 threads of 4 messages, which
// should take well under a second.
func BenchmarkSeed(b *testing.B) {
	for range b.N {
		sim := New(Config{})
		sim.AddVendor(vendorA, sessionA)
		sim.Seed(vendorA, 10000, 4, time.Time{})
	}
}

func TestTrafficStepIsAMarketplace(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddVendor(vendorA, sessionA)
	sim.Seed(vendorA, 20, 4, time.Time{})
	v := sim.mustVendor(vendorA)
	counts := map[string]int{}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		counts[sim.trafficStep(v, rnd)]++
	}
	for act, lo := range map[string]int{actNewThread: 300, actBuyer: 700, actVendorAnswer: 450, actRead: 120} {
		if counts[act] < lo {
			t.Fatalf("actions %v: too few %s", counts, act)
		}
	}
	// The ground truth agrees with the pending set Traffic answers from.
	v.RLock()
	pending := v.pending.Len()
	v.RUnlock()
	n := 0
	for _, th := range sim.Threads(vendorA) {
		if th.ReplyNeededSince != nil {
			n++
		}
	}
	if n != pending {
		t.Fatalf("%d threads await a reply, pending set holds %d", n, pending)
	}
	// Same seed, same story.
	a, b := New(Config{}), New(Config{})
	for _, s := range []*Server{a, b} {
		s.AddVendor(vendorA, sessionA)
		r := rand.New(rand.NewPCG(7, 7))
		for range 200 {
			s.trafficStep(s.mustVendor(vendorA), r)
		}
	}
	ta, tb := a.Threads(vendorA), b.Threads(vendorA)
	if len(ta) != len(tb) || len(ta[0].Messages) != len(tb[0].Messages) {
		t.Fatal("the same seed gave different traffic")
	}
}

func TestTrafficRunsUntilCancelled(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddVendor(vendorA, sessionA)
	events := make(chan struct{}, 64)
	sim.OnTraffic = func() {
		select {
		case events <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Traffic(ctx, strconv.Itoa(vendorA), 1000, rand.New(rand.NewPCG(1, 2))) }()

	timeout := time.After(10 * time.Second) // a failure guard, not synchronisation
	for range 20 {
		select {
		case <-events:
		case <-timeout:
			t.Fatal("no traffic")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Traffic returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Traffic does not stop")
	}
	if len(sim.Threads(vendorA)) == 0 {
		t.Fatal("traffic created no thread")
	}
	if err := sim.Traffic(context.Background(), "99", 1, nil); err == nil {
		t.Fatal("Traffic on an unknown vendor: no error")
	}
	if err := sim.Traffic(context.Background(), strconv.Itoa(vendorA), 0, nil); err == nil {
		t.Fatal("Traffic at rate 0: no error")
	}
}

// TestConcurrentWalks runs walkers while writers add messages, threads and
// reads; with the keyset cursor each walk lists no conversation twice and
// every one that existed when it began and was not written to since.
func TestConcurrentWalks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Now: time.Now})
	f.sim.Seed(vendorA, 400, 2, time.Time{})
	before := f.sim.Threads(vendorA)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		rnd := rand.New(rand.NewPCG(3, 4))
		v := f.sim.mustVendor(vendorA)
		for ctx.Err() == nil {
			f.sim.trafficStep(v, rnd)
		}
	})
	type result struct {
		ids   []string
		start time.Time
		err   string
	}
	results := make(chan result, 8)
	for range 4 {
		wg.Go(func() {
			for range 2 {
				start := time.Now()
				var ids []string
				q := url.Values{"limit": {"37"}}
				for {
					r := f.get(sessionA, "/vendor/conversations?"+q.Encode())
					if r.status != 200 {
						results <- result{err: string(r.body)}
						return
					}
					p := decode[listPage[wireConv]](t, r)
					for _, c := range p.Data {
						ids = append(ids, string(c.ID))
					}
					if !p.Meta.HasMore {
						break
					}
					q.Set("cursor", *p.Meta.NextCursor)
				}
				results <- result{ids: ids, start: start}
			}
		})
	}
	for range 8 {
		r := <-results
		if r.err != "" {
			t.Fatal(r.err)
		}
		seen := map[string]bool{}
		for _, id := range r.ids {
			if seen[id] {
				t.Fatalf("conversation %s listed twice in one walk", id)
			}
			seen[id] = true
		}
		for _, th := range before {
			cur, _ := f.sim.Thread(vendorA, th.ID)
			if id := strconv.FormatInt(th.ID, 10); !seen[id] && cur.UpdatedAt.Before(r.start) {
				t.Fatalf("conversation %s, unchanged since before the walk, not listed", id)
			}
		}
	}
	cancel()
	wg.Wait()
}

func BenchmarkSeed10000x4(b *testing.B) {
	for b.Loop() {
		sim := New(Config{})
		sim.AddVendor(vendorA, sessionA)
		sim.Seed(vendorA, 10000, 4, time.Time{})
	}
}
