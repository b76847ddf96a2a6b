package selfcommunitysim

import (
	"context"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.sim.AddThread(userA, NewThread{At: t0}) // existing history stays
	f.sim.Seed(userA, 300, 4)
	f.sim.Seed(userB, 30, 3)

	for _, tc := range []struct {
		acct    string
		threads int
		mpt     int
		pending int
	}{
		{userB, 30, 3, 30},   // O A O: every thread waits for the account
		{userA, 301, 4, 101}, // O A O A, except every third: O A O O; plus the first thread
	} {
		threads := f.sim.Threads(tc.acct)
		if len(threads) != tc.threads {
			t.Fatalf("%s: %d threads", tc.acct, len(threads))
		}
		pending := 0
		for i, th := range threads {
			if i == 0 && tc.acct == userA {
				pending++
				continue
			}
			if len(th.Messages) != tc.mpt || th.Messages[0].From != Other || th.Messages[1].From != Owner {
				t.Fatalf("thread %d: %+v", i, th.Messages)
			}
			if !th.CreatedAt.Equal(th.Messages[0].At) || !th.LastMessageAt.Equal(th.Messages[tc.mpt-1].At) || !th.LastMessageAt.Before(f.clock.Now()) {
				t.Fatalf("thread %d: times %v..%v not behind the clock", i, th.CreatedAt, th.LastMessageAt)
			}
			if d := th.Messages[1].At.Sub(th.Messages[0].At); d != time.Second {
				t.Fatalf("thread %d: messages %v apart", i, d)
			}
			if th.Messages[tc.mpt-1].From == Other {
				pending++
			}
		}
		if pending != tc.pending {
			t.Fatalf("%s: %d threads await a reply, want %d", tc.acct, pending, tc.pending)
		}
	}
	// The inbox is sorted once: newest first, and a new message still
	// moves a thread to the front.
	got := f.walkSnippets(tokenA, 100)
	truth := f.sim.Threads(userA)
	if len(got) != 301 || got[0] != truth[300].ID || got[300] != truth[0].ID {
		t.Fatalf("walk %v…%v, want newest seeded thread first and the oldest last", got[0], got[len(got)-1])
	}
	f.sim.AddMessage(userA, truth[5].ID, Other, "x", time.Time{})
	if got := decodePage[jsonSnippet](t, f.get(tokenA, "/api/v2/pm/?limit=1")).Results[0].ID; strconv.FormatInt(got, 10) != truth[5].ID {
		t.Fatalf("after a new message the first thread is %d, want %s", got, truth[5].ID)
	}
}

// TestSeedLarge seeds as many threads as the benchmarks do.
func TestSeedLarge(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddAccount(userA, tokenA)
	sim.Seed(userA, 10000, 4)
	if n := len(sim.Threads(userA)); n != 10000 {
		t.Fatalf("%d threads", n)
	}
}

// BenchmarkSeed: the benchmarks seed 10,000 threads of 4 messages, which
// should take well under a second.
func BenchmarkSeed(b *testing.B) {
	for range b.N {
		sim := New(Config{})
		sim.AddAccount(userA, tokenA)
		sim.Seed(userA, 10000, 4)
	}
}

func TestTrafficStep(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := f.sim.accounts.Must(userA)
	rnd := rand.New(rand.NewPCG(7, 8))
	counts := map[string]int{}
	for range 2000 {
		counts[f.sim.trafficStep(a, rnd)]++
	}
	if counts[actNewThread] < 300 || counts[actMember] < 700 || counts[actOwnerAnswer] < 500 {
		t.Fatalf("actions %v", counts)
	}
	// The pending set matches the ground truth.
	pending := 0
	for _, th := range f.sim.Threads(userA) {
		if th.Messages[len(th.Messages)-1].From == Other {
			pending++
		}
	}
	if pending != a.pending.Len() {
		t.Fatalf("%d threads await a reply, pending set holds %d", pending, a.pending.Len())
	}
	// The same seed, the same actions.
	g := newFixture(t, Config{})
	rnd = rand.New(rand.NewPCG(7, 8))
	again := map[string]int{}
	for range 2000 {
		again[g.sim.trafficStep(g.sim.accounts.Must(userA), rnd)]++
	}
	if len(again) != len(counts) || again[actMember] != counts[actMember] || again[actNewThread] != counts[actNewThread] {
		t.Fatalf("seeded traffic differs: %v vs %v", again, counts)
	}
}

func TestTrafficRunsUntilCancelled(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddAccount(userA, tokenA)
	steps := make(chan struct{}, 64)
	sim.OnTraffic = func() {
		select {
		case steps <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Traffic(ctx, userA, 1000, rand.New(rand.NewPCG(1, 2))) }()
	timeout := time.After(10 * time.Second) // a failure guard, not synchronisation
	for range 20 {
		select {
		case <-steps:
		case <-timeout:
			t.Fatal("no traffic")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Traffic returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Traffic does not stop")
	}
	if len(sim.Threads(userA)) == 0 {
		t.Fatal("traffic created no thread")
	}
	if err := sim.Traffic(context.Background(), "nobody", 1, nil); err == nil {
		t.Fatal("Traffic on an unknown account: no error")
	}
	if err := sim.Traffic(context.Background(), userA, 0, nil); err == nil {
		t.Fatal("Traffic at rate 0: no error")
	}
}

// TestConcurrentReadersAndWriters runs walks and thread reads while writers
// add messages and threads, for the race detector; every walk must list
// each thread that existed before it began and was not touched, once.
func TestConcurrentReadersAndWriters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Now: time.Now})
	f.sim.Seed(userA, 200, 2)
	before := f.sim.Threads(userA)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for range 300 {
				f.sim.trafficStep(f.sim.accounts.Must(userA), rnd)
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			for range 5 {
				ids := f.walkSnippets(tokenA, 50)
				if len(ids) < len(before) {
					t.Errorf("a walk listed %d threads of at least %d", len(ids), len(before))
				}
				th := before[len(ids)%len(before)].ID
				f.threadQuery(tokenA, url.Values{"thread": {th}})
			}
		})
	}
	wg.Wait()
	ids := f.walkSnippets(tokenA, 100)
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(ids) || len(ids) != len(f.sim.Threads(userA)) {
		t.Fatalf("a quiet walk lists %d threads (%d distinct) of %d", len(ids), len(slices.Compact(sorted)), len(f.sim.Threads(userA)))
	}
}
