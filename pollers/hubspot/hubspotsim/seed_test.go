package hubspotsim

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.sim.Seed(portalA, 30, 4, time.Time{})
	ths := f.sim.Threads(portalA)
	if len(ths) != 30 {
		t.Fatalf("%d threads", len(ths))
	}
	var pending, closed, welcomes, tickets int
	var last time.Time
	for i, th := range ths {
		if len(th.Messages) != 4 {
			t.Fatalf("thread %d: %d messages", i, len(th.Messages))
		}
		for j, m := range th.Messages {
			want := "inbound"
			if j%2 == 1 && !(j == 3 && i%3 == 2) {
				want = "outbound"
			}
			if m.Direction != want {
				t.Fatalf("thread %d message %d: %s, want %s", i, j, m.Direction, want)
			}
			if !m.At.After(last) {
				t.Fatalf("thread %d message %d at %v, not after %v", i, j, m.At, last)
			}
			last = m.At
		}
		if th.ReplyNeeded {
			pending++
		}
		if th.Status == StatusClosed {
			closed++
		}
		welcomes += len(th.Activity)
		if th.TicketID != "" {
			tickets++
		}
	}
	if pending != 10 || closed != 10 || welcomes != 7 || tickets != 6 {
		t.Fatalf("pending %d, closed %d, welcome messages %d, tickets %d", pending, closed, welcomes, tickets)
	}
	if last.After(f.clock.Now()) {
		t.Fatalf("seeded history ends at %v, after now %v", last, f.clock.Now())
	}
	if a := f.sim.accounts.Must(portalA); a.pending.Len() != pending {
		t.Fatalf("pending set has %d threads, %d need a reply", a.pending.Len(), pending)
	}
	// Later messages sort after the seeded ones.
	f.sim.AddMessage(portalA, ths[0].ID, Visitor, "again", time.Time{})
	q := "sort=latestMessageTimestamp&latestMessageTimestampAfter=2000-01-01T00:00:00Z&limit=100"
	if got := f.walk(tokA, q); got[len(got)-1] != ths[0].ID {
		t.Fatalf("walk by latest ends with %s", got[len(got)-1])
	}
	// Seeding again appends.
	f.sim.Seed(portalA, 5, 0, time.Time{})
	if got := f.walk(tokA, ""); len(got) != 35 {
		t.Fatalf("%d threads after a second seed", len(got))
	}
}

func TestTrafficStepIsASupportDesk(t *testing.T) {
	t.Parallel()
	run := func(seed uint64) (*Server, map[string]int) {
		sim := New(Config{})
		sim.AddAccount(portalA, tokA)
		a := sim.accounts.Must(portalA)
		rnd := rand.New(rand.NewPCG(seed, 1))
		acts := map[string]int{}
		for range 2000 {
			acts[sim.trafficStep(a, rnd)]++
		}
		return sim, acts
	}
	sim, acts := run(42)
	if acts[actNewThread] < 300 || acts[actVisitor] < 700 || acts[actAnswer] < 400 || acts[actClose] < 20 {
		t.Fatalf("actions %v", acts)
	}
	var pending int
	for _, th := range sim.Threads(portalA) {
		if th.ReplyNeeded {
			pending++
		}
	}
	if a := sim.accounts.Must(portalA); a.pending.Len() != pending {
		t.Fatalf("pending set has %d threads, %d need a reply", a.pending.Len(), pending)
	}
	again, _ := run(42)
	a, b := sim.Threads(portalA), again.Threads(portalA)
	if len(a) != len(b) || a[len(a)-1].ID != b[len(b)-1].ID || a[len(a)-1].Messages[0].Text != b[len(b)-1].Messages[0].Text {
		t.Fatal("Traffic with the same seed is not reproducible")
	}
}

func TestTrafficRunsUntilCancelled(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddAccount(portalA, tokA)
	events := make(chan struct{}, 64)
	sim.OnTraffic = func() {
		select {
		case events <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Traffic(ctx, portalA, 1000, rand.New(rand.NewPCG(1, 2))) }()
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
			t.Fatalf("Traffic returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Traffic does not stop")
	}
	if len(sim.Threads(portalA)) == 0 {
		t.Fatal("traffic created no thread")
	}
	if err := sim.Traffic(context.Background(), "nope", 1, nil); err == nil {
		t.Fatal("Traffic on an unknown account: no error")
	}
	if err := sim.Traffic(context.Background(), portalA, 0, nil); err == nil {
		t.Fatal("Traffic at rate 0: no error")
	}
}

// TestConcurrentWalksSeeEveryThread runs walkers, by id and by latest
// message, while writers add messages, comments and threads; each walk must
// return every thread that existed when it began.
func TestConcurrentWalksSeeEveryThread(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Now: time.Now})
	f.sim.Seed(portalA, 400, 2, time.Time{})
	ths := f.sim.Threads(portalA)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 4 {
		wg.Go(func() {
			q := "limit=" + strconv.Itoa(20+w*10)
			if w%2 == 1 {
				q += "&sort=latestMessageTimestamp&latestMessageTimestampAfter=2000-01-01T00:00:00Z"
			}
			seen, err := walkIDs(f.srv, tokA, q)
			if err != nil {
				errs <- err
				return
			}
			for _, th := range ths {
				if !seen[th.ID] {
					errs <- fmt.Errorf("walker %d (%s) missed thread %s", w, q, th.ID)
					return
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 300 {
				id := ths[rnd.IntN(len(ths))].ID
				switch i % 3 {
				case 0:
					f.sim.AddComment(portalA, id, "x", time.Time{})
				default:
					f.sim.AddMessage(portalA, id, Sender(1+i%2), "x", time.Time{})
				}
				if i%50 == 0 {
					f.sim.AddThread(portalA, NewThread{})
				}
			}
		})
	}
	wg.Go(func() {
		a := f.sim.accounts.Must(portalA)
		rnd := rand.New(rand.NewPCG(3, 3))
		for range 300 {
			f.sim.trafficStep(a, rnd)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// walkIDs walks the thread list with the standard library only, safe off
// the test goroutine.
func walkIDs(srv *httptest.Server, tok, query string) (map[string]bool, error) {
	seen := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			return nil, fmt.Errorf("walk does not end")
		}
		q := query
		if after != "" {
			q += "&after=" + url.QueryEscape(after)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+threadsURL+"?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return nil, err
		}
		var p jPage[jThread]
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("page %d: status %d, %v", pages, resp.StatusCode, err)
		}
		for _, th := range p.Results {
			seen[th.ID] = true
		}
		if after = p.after(); after == "" {
			return seen, nil
		}
	}
}

func BenchmarkSeed10000x4(b *testing.B) {
	for b.Loop() {
		sim := New(Config{})
		sim.AddAccount(portalA, tokA)
		sim.Seed(portalA, 10000, 4, time.Time{})
	}
}

func BenchmarkWalk10000(b *testing.B) {
	sim := New(Config{})
	sim.AddAccount(portalA, tokA)
	sim.Seed(portalA, 10000, 4, time.Time{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	for b.Loop() {
		seen, err := walkIDs(srv, tokA, "limit=100")
		if err != nil || len(seen) != 10000 {
			b.Fatalf("walk: %d threads, %v", len(seen), err)
		}
	}
}

func BenchmarkAddMessage10000(b *testing.B) {
	sim := New(Config{})
	sim.AddAccount(portalA, tokA)
	sim.Seed(portalA, 10000, 1, time.Time{})
	ths := sim.Threads(portalA)
	i := 0
	for b.Loop() {
		// Mostly mid-index threads: the removal memmove is the cost.
		sim.AddMessage(portalA, ths[i%len(ths)].ID, Visitor, "x", time.Time{})
		i += 7919
	}
}
