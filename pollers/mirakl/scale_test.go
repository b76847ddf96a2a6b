package mirakl_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// BenchmarkManyAccounts follows 10,000 Mirakl shops of 3 threads each from
// one engine: the time for every account's initial sync and then for a
// sweep over all of them with nothing new, and the process's memory.
func BenchmarkManyAccounts(b *testing.B) {
	const shops = 10000
	for range b.N {
		sim := miraklsim.New(miraklsim.Config{})
		srv := httptest.NewServer(sim)
		accts := make([]pollers.Account, shops)
		for i := range shops {
			id := strconv.Itoa(100000 + i)
			key := randomKey()
			sim.AddShop(id, key)
			sim.Seed(id, 3, 2, time.Time{})
			accts[i] = pollers.Account{Provider: mirakl.Name, ID: "shop-" + id, BaseURL: srv.URL, Token: key,
				PollInterval: time.Hour, Options: map[string]string{"shop_id": id}}
		}
		w := pollerstest.NewWorld(b)
		var polls, evs atomic.Int64
		done := make(chan struct{})
		// The default logger, not the world's buffer: that would hold every
		// account's lines in the heap measured.
		e := w.Engine(pollers.Config{
			SweepInterval: -1, Logger: slog.Default(),
			OnPoll: func(_ pollers.Account, st pollers.Stats, err error) {
				if err != nil {
					b.Errorf("poll: %v", err)
				}
				evs.Add(int64(st.Events))
				if polls.Add(1) == shops {
					close(done)
				}
			},
		}, accts...)
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		runDone := make(chan error, 1)
		go func() { runDone <- e.Run(ctx) }()
		<-done
		dInitial := time.Since(start)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		goroutines := runtime.NumGoroutine()

		// Every account again, nothing new: the steady state's cost.
		start = time.Now()
		for _, a := range accts {
			if _, err := e.PollOnce(ctx, a.Provider, a.ID); err != nil {
				b.Fatal(err)
			}
		}
		dIdle := time.Since(start)
		cancel()
		<-runDone
		srv.Close()

		fmt.Printf("\n| %d Mirakl accounts × 3 threads, one engine | value |\n|---|---|\n", shops)
		fmt.Printf("| initial sync of every account: accounts/s (%d events in %s) | %.0f |\n", evs.Load(), dInitial.Round(time.Millisecond), shops/dInitial.Seconds())
		fmt.Printf("| a poll of every account with nothing new, one after another: accounts/s | %.0f |\n", shops/dIdle.Seconds())
		fmt.Printf("| heap in use after the initial sync | %d MiB |\n", ms.HeapInuse>>20)
		fmt.Printf("| goroutines (the poll workers and the servers'; none per account) | %d |\n", goroutines)
		fmt.Printf("| peak RSS of the benchmark process (simulator and JetStream included) | %s |\n", peakRSS())
	}
}
