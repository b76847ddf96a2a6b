package mirakl_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// roundTrips counts Redis round trips: one per command or pipeline sent.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

// BenchmarkMirakl measures one account of 20,000 threads × 5 messages on the
// simulator, through real Redis and JetStream, and raw JetStream publishing
// of as many same-sized messages into the same server for comparison. It
// prints a table and, last, one machine-readable line.
func BenchmarkMirakl(b *testing.B) {
	threads, perThread := 20000, 5
	if v := os.Getenv("BENCH_THREADS"); v != "" {
		threads, _ = strconv.Atoi(v)
	}
	for range b.N {
		benchMirakl(b, threads, perThread)
	}
}

func benchMirakl(b *testing.B, threads, perThread int) {
	ctx := context.Background()
	shop := pollerstest.NewShop(b, threads, perThread, nil)
	w := pollerstest.NewWorld(b)
	rt := &roundTrips{}
	w.Redis.AddHook(rt)
	js := w.JS
	acct := shop.Account("bench", map[string]string{"requests_per_second": "1000000"})
	acct.InitialSync = pollers.SyncFull
	engine := func(sweep time.Duration) *pollers.Engine { return w.Engine(pollers.Config{SweepInterval: sweep}, acct) }
	poll := func(e *pollers.Engine) (pollers.Stats, time.Duration) {
		start := time.Now()
		st, err := e.PollOnce(ctx, acct.Provider, acct.ID)
		if err != nil || !st.Completed {
			b.Fatalf("poll: %+v %v", st, err)
		}
		return st, time.Since(start)
	}

	// Initial full sync.
	rt0 := rt.n.Load()
	initial, dInitial := poll(engine(time.Nanosecond))
	rtInitial := rt.n.Load() - rt0
	evRate := float64(initial.Events) / dInitial.Seconds()

	// Unchanged sweep: the whole list again, nothing new.
	shop.ResetStats()
	sweep, dSweep := poll(engine(time.Nanosecond))
	m10Unchanged := shop.Stats().M10Calls
	if sweep.Events != 0 {
		b.Fatalf("unchanged sweep published %d events", sweep.Events)
	}

	// 1% of threads change; an incremental walk picks them up.
	truth := shop.Threads(shopID)
	changed := threads / 100
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, i := range rnd.Perm(len(truth))[:changed] {
		shop.AddMessage(shopID, truth[i].ID, miraklsim.Customer, "any news?", time.Time{})
	}
	shop.ResetStats()
	inc, dInc := poll(engine(-1))
	st := shop.Stats()
	if inc.Changed < changed {
		b.Fatalf("incremental walk saw %d changed threads, want %d", inc.Changed, changed)
	}
	reqPerChanged := float64(st.M10Calls+st.M11Calls) / float64(changed)

	// Raw JetStream: as many messages of the same size, with ids.
	rawRate := rawPublish(b, js, initial.Events, avgEventSize(b, js))

	ratio := evRate / rawRate
	fmt.Printf("\n| Mirakl, 1 account, %d threads × %d messages | value |\n|---|---|\n", threads, perThread)
	fmt.Printf("| initial sync: threads/s | %.0f |\n", float64(initial.Threads)/dInitial.Seconds())
	fmt.Printf("| initial sync: events/s (%d events in %s) | %.0f |\n", initial.Events, dInitial.Round(time.Millisecond), evRate)
	fmt.Printf("| raw JetStream PublishMsgAsync with ids: msgs/s | %.0f |\n", rawRate)
	fmt.Printf("| ratio threadsync ÷ raw | %.2f |\n", ratio)
	fmt.Printf("| unchanged sweep: threads/s (%d pages) | %.0f |\n", sweep.Pages, float64(sweep.Threads)/dSweep.Seconds())
	fmt.Printf("| unchanged sweep: M10 calls | %d |\n", m10Unchanged)
	fmt.Printf("| 1%% changed (%d threads): walk time | %s |\n", changed, dInc.Round(time.Millisecond))
	fmt.Printf("| 1%% changed: API requests per changed thread | %.3f |\n", reqPerChanged)
	fmt.Printf("| initial sync: Redis round trips per page | %.2f |\n", float64(rtInitial)/float64(initial.Pages))
	fmt.Printf("| peak RSS of the whole benchmark process (simulator and JetStream server included) | %s |\n", peakRSS())
	fmt.Printf("bench: events_per_s=%.0f raw_events_per_s=%.0f ratio=%.2f unchanged_threads_per_s=%.0f m10_calls_unchanged=%d\n",
		evRate, rawRate, ratio, float64(sweep.Threads)/dSweep.Seconds(), m10Unchanged)
}

func avgEventSize(b *testing.B, js *eventstest.Env) int {
	s, err := js.JS.Stream(context.Background(), js.Stream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil || info.State.Msgs == 0 {
		b.Fatal("no events to size", err)
	}
	return int(info.State.Bytes / info.State.Msgs)
}

func rawPublish(b *testing.B, js *eventstest.Env, n, size int) float64 {
	nc, err := nats.Connect(js.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	jsc, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := json.Marshal(strings.Repeat("x", max(size-150, 10)))
	start := time.Now()
	for i := range n {
		m := nats.NewMsg("inbox.raw.bench.message.received")
		m.Data = payload
		if _, err := jsc.PublishMsgAsync(m, jetstream.WithMsgID("raw-"+strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-jsc.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("raw publish did not complete")
	}
	return float64(n) / time.Since(start).Seconds()
}

// peakRSS reads the process's high-water resident set from /proc.
func peakRSS() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.Fields(v)[0])
			return fmt.Sprintf("%d MiB", kb/1024)
		}
	}
	return "n/a"
}

// BenchmarkProvider is Mirakl's row of the per-provider table.
func BenchmarkProvider(b *testing.B) { pollerstest.Bench(b, newHarness(), 10000) }

// BenchmarkFaultTax is mirakl's row of the fault-tax table: an initial sync of
// 2,000 threads without faults and with a 429 on every 5th request.
func BenchmarkFaultTax(b *testing.B) { pollerstest.FaultTax(b, newHarness(), 2000) }
