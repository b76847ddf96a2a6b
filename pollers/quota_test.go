package pollers_test

import (
	"cmp"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// quotaWorld is two Mirakl accounts sharing one quota, each on its own
// simulator, with every request's arrival recorded.
type quotaWorld struct {
	*pollerstest.World
	shops [2]*pollerstest.Shop
	accts []pollers.Account
	mu    sync.Mutex
	at    [2][]time.Time
	e     *pollers.Engine
	// on429, when set, is called once a request of account 0 was answered 429.
	on429 func()
}

func newQuotaWorld(t *testing.T, rps string, threads int) *quotaWorld {
	t.Helper()
	w := &quotaWorld{World: pollerstest.NewWorld(t)}
	for i := range 2 {
		refused := on429(func() {
			if i == 0 && w.on429 != nil {
				w.on429()
			}
		})
		w.shops[i] = pollerstest.NewShop(t, threads, 1, func(sim http.Handler) http.Handler {
			sim = refused(sim)
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				w.mu.Lock()
				w.at[i] = append(w.at[i], time.Now())
				w.mu.Unlock()
				sim.ServeHTTP(rw, r)
			})
		})
		w.accts = append(w.accts, w.shops[i].Account([]string{"inbox-a", "inbox-b"}[i],
			map[string]string{"page_size": "1", "quota": "portal-7", "requests_per_second": rps}))
	}
	w.e = w.Engine(pollers.Config{Quotas: w.Store}, w.accts...)
	return w
}

// group runs polls side by side and returns the first error.
type group struct {
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
}

func (g *group) Go(f func() error) {
	g.wg.Go(func() {
		if err := f(); err != nil {
			g.mu.Lock()
			g.err = cmp.Or(g.err, err)
			g.mu.Unlock()
		}
	})
}

func (g *group) Wait() error {
	g.wg.Wait()
	return g.err
}

// on429 serves through the simulator and calls f after each 429 it
// answered.
func on429(f func()) func(sim http.Handler) http.Handler {
	return func(sim http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w}
			sim.ServeHTTP(rec, r)
			if rec.status == http.StatusTooManyRequests {
				f()
			}
		})
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (w *quotaWorld) times(i int) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.at[i]...)
}

// TestSharedQuotaBudget: two accounts of one quota of 5 requests per
// second spend one budget: 2×9 requests take at least (18-5)/5 s, where
// each alone would take under 1 s.
func TestSharedQuotaBudget(t *testing.T) {
	t.Parallel()
	w := newQuotaWorld(t, "5", 8)
	began := time.Now()
	var g group
	for _, a := range w.accts {
		g.Go(func() error {
			_, err := w.e.PollOnce(context.Background(), a.Provider, a.ID)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	n := len(w.times(0)) + len(w.times(1))
	if min := time.Duration(float64(n-5) / 5 * float64(time.Second)); took < min-200*time.Millisecond {
		t.Fatalf("%d requests of a shared 5/s budget took %s, want at least %s", n, took, min)
	}
	if got := w.JS.Count(t); got != 2*(8+8+8) { // per thread: created, message, reply needed
		t.Fatalf("stream holds %d events, want %d", got, 2*24)
	}
}

// TestSharedQuotaPause: a 429 seen by one account pauses the other: it
// sends nothing until the Retry-After is over.
func TestSharedQuotaPause(t *testing.T) {
	t.Parallel()
	w := newQuotaWorld(t, "1000", 3)
	w.shops[0].InjectFault(miraklsim.Fault{Endpoint: "M11", Status: http.StatusTooManyRequests, RetryAfter: "2"})
	refused := make(chan time.Time, 1)
	w.on429 = func() { refused <- time.Now() }
	var g group
	g.Go(func() error {
		_, err := w.e.PollOnce(context.Background(), w.accts[0].Provider, w.accts[0].ID)
		return err
	})
	at := <-refused
	// The refused account tells its quota once it has the answer.
	_, pausedKey := w.Store.QuotaKeys("portal-7")
	w.Until("the quota paused in Redis", func() bool {
		return w.Redis.PTTL(context.Background(), pausedKey).Val() > 0
	})
	before := len(w.times(1))
	g.Go(func() error {
		_, err := w.e.PollOnce(context.Background(), w.accts[1].Provider, w.accts[1].ID)
		return err
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	b := w.times(1)
	if len(b) == before {
		t.Fatal("the second account sent nothing")
	}
	// Redis measures the pause, the test the requests: allow its start to
	// have been a few milliseconds before the 429 was seen here.
	if first := b[before]; first.Before(at.Add(2*time.Second - 50*time.Millisecond)) {
		t.Fatalf("the other account of the quota asked %s after the 429 with Retry-After 2", first.Sub(at))
	}
	for i, a := range w.times(0) {
		if a.After(at) && a.Before(at.Add(2*time.Second-50*time.Millisecond)) {
			t.Fatalf("the refused account's request %d came %s after its 429", i, a.Sub(at))
		}
	}
}

// TestQuotaNeedsOneRate: accounts of one quota must agree on its rate.
func TestQuotaNeedsOneRate(t *testing.T) {
	t.Parallel()
	w := pollerstest.NewWorld(t)
	mk := func(id, rps string) pollers.Account {
		return pollers.Account{Provider: mirakl.Name, ID: id, BaseURL: "http://127.0.0.1:1", Token: "k",
			Options: map[string]string{"quota": "q1", "requests_per_second": rps}}
	}
	if _, err := pollers.New(w.Config(pollers.Config{Quotas: w.Store}), []pollers.Account{mk("a", "5"), mk("b", "9")}); err == nil {
		t.Fatal("two rates for one quota were accepted")
	}
	if _, err := pollers.New(w.Config(pollers.Config{}), []pollers.Account{mk("a", "5")}); err == nil {
		t.Fatal("a quota without a shared store was accepted")
	}
}
