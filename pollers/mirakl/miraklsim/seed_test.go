package miraklsim

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// wantReplyNeeded recomputes shop_reply_needed_since from the messages.
func wantReplyNeeded(msgs []MessageInfo, latest bool) *time.Time {
	var since *time.Time
	for _, m := range msgs {
		switch {
		case m.From == Shop:
			since = nil
		case since == nil || latest:
			at := m.At
			since = &at
		}
	}
	return since
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.sim.Seed(shopA, 300, 5, time.Time{})
	f.sim.Seed(shopB, 300, 4, t0)

	for _, tc := range []struct {
		shop        string
		mpt         int
		replyNeeded int
	}{
		{shopA, 5, 300}, // C S C S C: every thread waits for the shop
		{shopB, 4, 100}, // C S C S, except every third thread: C S C C
	} {
		threads := f.sim.Threads(tc.shop)
		if len(threads) != 300 {
			t.Fatalf("shop %s: %d threads", tc.shop, len(threads))
		}
		needed := 0
		for i, th := range threads {
			if len(th.Messages) != tc.mpt {
				t.Fatalf("thread %d has %d messages", i, len(th.Messages))
			}
			if th.Messages[0].From != Customer || (th.Messages[1].From != Shop) {
				t.Fatalf("thread %d does not start customer, shop", i)
			}
			if !th.CreatedAt.Equal(th.Messages[0].At) || !th.UpdatedAt.Equal(th.Messages[tc.mpt-1].At) {
				t.Fatalf("thread %d: created/updated do not match its messages", i)
			}
			if !th.UpdatedAt.After(th.CreatedAt) || th.UpdatedAt.After(f.clock.Now()) {
				t.Fatalf("thread %d: history not behind the clock: %v", i, th.UpdatedAt)
			}
			if !sameTime(th.ReplyNeededSince, wantReplyNeeded(th.Messages, false)) {
				t.Fatalf("thread %d: reply needed since %v", i, th.ReplyNeededSince)
			}
			if th.ReplyNeededSince != nil {
				needed++
			}
		}
		if needed != tc.replyNeeded {
			t.Fatalf("shop %s: %d threads need a reply, want %d", tc.shop, needed, tc.replyNeeded)
		}
		key := map[string]string{shopA: keyA, shopB: keyB}[tc.shop]
		got := ids(f.walk(key, url.Values{"limit": {"100"}}, nil))
		if len(got) != 300 || !slices.Equal(got[:3], []string{threads[0].ID, threads[1].ID, threads[2].ID}) {
			t.Fatal("the walk over seeded threads does not follow the index")
		}
	}
	// With start t0, messages are a second apart.
	b := f.sim.Threads(shopB)
	if d := b[0].Messages[1].At.Sub(b[0].Messages[0].At); d != time.Second || !b[0].CreatedAt.Equal(t0) {
		t.Fatalf("seeded messages %v apart from %v, want 1s from t0", d, b[0].CreatedAt)
	}
	// Later messages sort after the seed.
	id := b[0].ID
	f.sim.AddMessage(shopB, id, Customer, "x", time.Time{})
	if b = f.sim.Threads(shopB); b[len(b)-1].ID != id {
		t.Fatal("a new message does not move the thread to the end")
	}
}

func TestTrafficStepIsAMarketplace(t *testing.T) {
	t.Parallel()
	run := func(seed uint64) (*Server, map[string]int) {
		clock := sim.NewClock(t0)
		sim := New(Config{Now: clock.Now})
		sim.AddShop(shopA, keyA)
		sim.Seed(shopA, 20, 4, time.Time{})
		sh := sim.shops.Must(shopA)
		rnd := rand.New(rand.NewPCG(seed, 1))
		acts := map[string]int{}
		for range 3000 {
			acts[sim.trafficStep(sh, rnd)]++
		}
		return sim, acts
	}
	sim, acts := run(42)
	t.Logf("actions: %v", acts)
	if n := acts[actNewThread]; n < 500 || n > 700 {
		t.Errorf("%d new threads in 3000 events, want about 20%%", n)
	}
	if n := acts[actCustomer]; n < 1200 || n > 1500 {
		t.Errorf("%d customer messages in 3000 events, want about 45%%", n)
	}
	if n := acts[actShopAnswer] + acts[actNone]; n < 900 || n > 1200 {
		t.Errorf("%d shop turns in 3000 events, want about 35%%", n)
	}

	threads := sim.Threads(shopA)
	if len(threads) != 20+acts[actNewThread] {
		t.Fatalf("%d threads", len(threads))
	}
	pending := 0
	for _, th := range threads {
		if !sameTime(th.ReplyNeededSince, wantReplyNeeded(th.Messages, false)) {
			t.Fatalf("thread %s: reply needed since %v disagrees with its messages", th.ID, th.ReplyNeededSince)
		}
		if th.ReplyNeededSince != nil {
			pending++
		}
	}
	if sh := sim.shops.Must(shopA); sh.pending.Len() != pending {
		t.Fatalf("pending set has %d threads, %d need a reply", sh.pending.Len(), pending)
	}

	// The same seed gives the same inbox, ids included.
	again, _ := run(42)
	if a, b := threads, again.Threads(shopA); len(a) != len(b) || a[len(a)-1].ID != b[len(b)-1].ID ||
		a[len(a)-1].Messages[0].Body != b[len(b)-1].Messages[0].Body {
		t.Fatal("Traffic with the same seed is not reproducible")
	}
}

func TestTrafficRunsUntilCancelled(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddShop(shopA, keyA)
	events := make(chan struct{}, 64)
	sim.OnTraffic = func() {
		select {
		case events <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Traffic(ctx, shopA, 1000, rand.New(rand.NewPCG(1, 2))) }()

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
	if len(sim.Threads(shopA)) == 0 {
		t.Fatal("traffic created no thread")
	}

	if err := sim.Traffic(context.Background(), "nope", 1, nil); err == nil {
		t.Fatal("Traffic on an unknown shop: no error")
	}
	if err := sim.Traffic(context.Background(), shopA, 0, nil); err == nil {
		t.Fatal("Traffic at rate 0: no error")
	}
}

// TestConcurrentWalksSeeEveryThread runs walkers while writers add messages
// and threads; each walk must return every thread that existed when it began.
func TestConcurrentWalksSeeEveryThread(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Now: time.Now})
	f.sim.Seed(shopA, 400, 2, time.Time{})
	before := map[string]bool{}
	for _, th := range f.sim.Threads(shopA) {
		before[th.ID] = true
	}
	ids := slices.Collect(func(yield func(string) bool) {
		for id := range before {
			if !yield(id) {
				return
			}
		}
	})
	slices.Sort(ids)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 4 {
		wg.Go(func() {
			seen, err := walkIDs(f.srv, keyA, strconv.Itoa(20+w*10))
			if err != nil {
				errs <- err
				return
			}
			for id := range before {
				if !seen[id] {
					errs <- fmt.Errorf("walker %d missed thread %s", w, id)
					return
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 300 {
				id := ids[rnd.IntN(len(ids))]
				f.sim.AddMessage(shopA, id, SenderType(1+i%3), "x", time.Time{})
				if i%50 == 0 {
					f.sim.AddThread(shopA, NewThread{})
				}
			}
		})
	}
	wg.Go(func() {
		sh := f.sim.shops.Must(shopA)
		rnd := rand.New(rand.NewPCG(3, 3))
		for range 300 {
			f.sim.trafficStep(sh, rnd)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// walkIDs walks M11 with the standard library only, safe off the test goroutine.
func walkIDs(srv *httptest.Server, key, limit string) (map[string]bool, error) {
	seen := map[string]bool{}
	q := "limit=" + limit
	for pages := 0; ; pages++ {
		if pages > 1000 {
			return nil, fmt.Errorf("walk does not end")
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/inbox/threads?"+q, nil)
		req.Header.Set("Authorization", key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return nil, err
		}
		var p jPage
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("page %d: status %d, %v", pages, resp.StatusCode, err)
		}
		for _, th := range p.Data {
			seen[th.ID] = true
		}
		if p.Next == nil {
			return seen, nil
		}
		q = "page_token=" + url.QueryEscape(*p.Next)
	}
}

func BenchmarkSeed20000x5(b *testing.B) {
	for b.Loop() {
		sim := New(Config{})
		sim.AddShop(shopA, keyA)
		sim.Seed(shopA, 20000, 5, time.Time{})
	}
}

func BenchmarkWalk20000(b *testing.B) {
	sim := New(Config{})
	sim.AddShop(shopA, keyA)
	sim.Seed(shopA, 20000, 5, time.Time{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	for b.Loop() {
		seen, err := walkIDs(srv, keyA, "100")
		if err != nil || len(seen) != 20000 {
			b.Fatalf("walk: %d threads, %v", len(seen), err)
		}
	}
}

func BenchmarkAddMessage20000(b *testing.B) {
	sim := New(Config{})
	sim.AddShop(shopA, keyA)
	sim.Seed(shopA, 20000, 1, time.Time{})
	threads := sim.Threads(shopA)
	i := 0
	for b.Loop() {
		// Mostly mid-index threads: the removal memmove is the cost.
		sim.AddMessage(shopA, threads[i%len(threads)].ID, Customer, "x", time.Time{})
		i += 7919
	}
}
