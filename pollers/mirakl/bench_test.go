package mirakl_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
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
	var acct pollers.Account // the first round's
	engine := func(sweep time.Duration) *pollers.Engine { return w.Engine(pollers.Config{SweepInterval: sweep}, acct) }
	poll := func(e *pollers.Engine) (pollers.Stats, time.Duration) {
		start := time.Now()
		st, err := e.PollOnce(ctx, acct.Provider, acct.ID)
		if err != nil || !st.Completed {
			b.Fatalf("poll: %+v %v", st, err)
		}
		return st, time.Since(start)
	}

	// Initial full sync, and raw publishing of as many messages, in
	// rounds: each round syncs an account of its own over the same shop
	// into the same stream, then publishes raw. The server's speed drifts
	// as its stream grows and as the machine's other load comes and goes;
	// interleaved, the two sides see the same drift, and the round with
	// the median ratio is the one reported. BENCH_SYNC_CPUPROFILE and
	// BENCH_RAW_CPUPROFILE name files that get CPU profiles of the first
	// round's windows alone (not with -cpuprofile).
	type round struct {
		st             pollers.Stats
		d              time.Duration
		cpu, cpuRaw    time.Duration
		rtPages        float64
		rate, raw      float64
		ratio          float64
		size, rawBytes int
	}
	rounds := make([]round, benchRounds(b))
	var size int
	for i := range rounds {
		r := &rounds[i]
		a := shop.Account(fmt.Sprintf("bench-%d", i), map[string]string{"requests_per_second": "1000000"})
		a.InitialSync = pollers.SyncFull
		if i == 0 {
			acct = a
		}
		e := w.Engine(pollers.Config{SweepInterval: time.Nanosecond}, a)
		rt0 := rt.n.Load()
		stopProfile := func() {}
		if i == 0 {
			stopProfile = profileWindow(b, os.Getenv("BENCH_SYNC_CPUPROFILE"))
		}
		cpu0 := processCPU()
		start := time.Now()
		st, err := e.PollOnce(ctx, a.Provider, a.ID)
		if err != nil || !st.Completed {
			b.Fatalf("initial sync, round %d: %+v %v", i+1, st, err)
		}
		r.st, r.d, r.cpu = st, time.Since(start), processCPU()-cpu0
		stopProfile()
		e.Release()
		r.rtPages = float64(rt.n.Load()-rt0) / float64(st.Pages)
		r.rate = float64(st.Events) / r.d.Seconds()
		if i == 0 {
			size = avgEventSize(b, js)
		}
		msgs0, bytes0 := streamState(b, js)
		if i == 0 {
			stopProfile = profileWindow(b, os.Getenv("BENCH_RAW_CPUPROFILE"))
		}
		cpu0 = processCPU()
		r.raw = rawPublish(b, js, st.Events, size, fmt.Sprintf("shape%d", i))
		r.cpuRaw = processCPU() - cpu0
		stopProfile()
		msgs1, bytes1 := streamState(b, js)
		r.size, r.rawBytes = size, int((bytes1-bytes0)/max(msgs1-msgs0, 1))
		r.ratio = r.rate / r.raw
	}
	ratios := make([]float64, len(rounds))
	for i := range rounds {
		ratios[i] = rounds[i].ratio
	}
	slices.SortFunc(rounds, func(x, y round) int { return cmp.Compare(x.ratio, y.ratio) })
	med := rounds[len(rounds)/2]
	initial, dInitial, evRate, rawRate := med.st, med.d, med.rate, med.raw
	cpuInitial, cpuRaw := med.cpu, med.cpuRaw

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

	// The baseline this benchmark had first, for comparison.
	msgs1, bytes1 := streamState(b, js)
	plainRate := rawPublish(b, js, initial.Events, size, "")
	msgs2, bytes2 := streamState(b, js)
	plainSize := int((bytes2 - bytes1) / max(msgs2-msgs1, 1))

	ratio := evRate / rawRate
	fmt.Printf("\n| Mirakl, 1 account, %d threads × %d messages | value |\n|---|---|\n", threads, perThread)
	fmt.Printf("| initial sync: threads/s | %.0f |\n", float64(initial.Threads)/dInitial.Seconds())
	fmt.Printf("| initial sync: events/s (%d events in %s) | %.0f |\n", initial.Events, dInitial.Round(time.Millisecond), evRate)
	fmt.Printf("| raw JetStream PublishMsgAsync with ids, messages shaped like the events: msgs/s | %.0f |\n", rawRate)
	fmt.Printf("| ratio threadsync ÷ raw: median of %d rounds (each ratio) | %.2f (%s) |\n", len(ratios), ratio, fmtRatios(ratios))
	fmt.Printf("| bytes stored per message: events / raw | %d / %d |\n", med.size, med.rawBytes)
	fmt.Printf("| raw, messages with one header and short ids (%d bytes stored): msgs/s; ratio | %.0f; %.2f |\n", plainSize, plainRate, evRate/plainRate)
	fmt.Printf("| process CPU per event: initial sync / raw (simulator and JetStream server included) | %.1f µs / %.1f µs |\n",
		perEvent(cpuInitial, initial.Events), perEvent(cpuRaw, initial.Events))
	fmt.Printf("| unchanged sweep: threads/s (%d pages) | %.0f |\n", sweep.Pages, float64(sweep.Threads)/dSweep.Seconds())
	fmt.Printf("| unchanged sweep: M10 calls | %d |\n", m10Unchanged)
	fmt.Printf("| 1%% changed (%d threads): walk time | %s |\n", changed, dInc.Round(time.Millisecond))
	fmt.Printf("| 1%% changed: API requests per changed thread | %.3f |\n", reqPerChanged)
	fmt.Printf("| initial sync: Redis round trips per page | %.2f |\n", med.rtPages)
	fmt.Printf("| peak RSS of the whole benchmark process (simulator and JetStream server included) | %s |\n", peakRSS())
	fmt.Printf("bench: events_per_s=%.0f raw_events_per_s=%.0f ratio=%.2f unchanged_threads_per_s=%.0f m10_calls_unchanged=%d cpu_us_per_event=%.1f raw_cpu_us_per_event=%.1f plain_raw_events_per_s=%.0f plain_ratio=%.2f\n",
		evRate, rawRate, ratio, float64(sweep.Threads)/dSweep.Seconds(), m10Unchanged,
		perEvent(cpuInitial, initial.Events), perEvent(cpuRaw, initial.Events), plainRate, evRate/plainRate)
}

func avgEventSize(b *testing.B, js *eventstest.Env) int {
	msgs, bytes := streamState(b, js)
	if msgs == 0 {
		b.Fatal("no events to size")
	}
	return int(bytes / msgs)
}

// streamState is how many messages and bytes the stream holds.
func streamState(b *testing.B, js *eventstest.Env) (msgs, bytes uint64) {
	s, err := js.JS.Stream(context.Background(), js.Stream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return info.State.Msgs, info.State.Bytes
}

// benchRounds is how many rounds of sync and raw publishing
// BenchmarkMirakl makes: BENCH_ROUNDS, 3 unless set.
func benchRounds(b *testing.B) int {
	v := os.Getenv("BENCH_ROUNDS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 9 {
		b.Fatalf("BENCH_ROUNDS=%q: want a whole number from 1 to 9", v)
	}
	return n
}

func fmtRatios(rs []float64) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = strconv.FormatFloat(r, 'f', 2, 64)
	}
	return strings.Join(s, ", ")
}

// rawPublish publishes n messages shaped like the events when shape names
// the round (its ids start with it): the same headers (Content-Type,
// Ce-Type and a Nats-Msg-Id as long as an event id), a subject as long,
// and a payload that makes them take size bytes in the stream, as the
// events take on average. With shape empty, they are the baseline this
// benchmark had first: one header, short ids, a payload size-150 bytes
// long.
func rawPublish(b *testing.B, js *eventstest.Env, n, size int, shape string) float64 {
	shaped := shape != ""
	nc, err := nats.Connect(js.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	jsc, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	subject := "inbox.raw.bench.message.received"
	id := func(i int) string { return "raw-" + strconv.Itoa(i) }
	headers := [][2]string{}
	payloadSize := size - 150
	if shaped {
		subject = "inbox.rawraw.bench.message.received" // as long as the events'
		const zeros = "00000000000000000000000000000000"
		id = func(i int) string { // as long as a UUID
			n := strconv.Itoa(i)
			return shape + "-" + zeros[len(n)+len(shape)-3:] + n
		}
		headers = [][2]string{{"Content-Type", "application/cloudevents+json"}, {"Ce-Type", "MessageReceived"}}
		// What JetStream's file store keeps of a message besides its
		// payload: a record header, headers length and checksum (34
		// bytes), the subject, the headers as sent.
		overhead := 34 + len(subject) + len("NATS/1.0\r\n\r\n") + len(jetstream.MsgIDHeader) + len(": \r\n") + len(id(0))
		for _, h := range headers {
			overhead += len(h[0]) + len(": \r\n") + len(h[1])
		}
		payloadSize = size - overhead - 2 // the payload is a JSON string
	}
	payload, _ := json.Marshal(strings.Repeat("x", max(payloadSize, 10)))
	start := time.Now()
	for i := range n {
		m := nats.NewMsg(subject)
		for _, h := range headers {
			m.Header.Set(h[0], h[1])
		}
		m.Data = payload
		for {
			// On a loaded machine the server may take longer than the
			// default stall wait to free a slot: wait again, as the
			// engine's publisher does.
			_, err := jsc.PublishMsgAsync(m, jetstream.WithMsgID(id(i)))
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				b.Fatal(err)
			}
		}
	}
	select {
	case <-jsc.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("raw publish did not complete")
	}
	return float64(n) / time.Since(start).Seconds()
}

// profileWindow starts a CPU profile into file, when named, and returns
// what stops it. A name ending in .mem asks for the allocations of the
// window instead: heap profiles at its start (file.base) and end, for
// pprof -base.
func profileWindow(b *testing.B, file string) (stop func()) {
	if file == "" {
		return func() {}
	}
	if strings.HasSuffix(file, ".mem") {
		writeHeap(b, file+".base")
		return func() { writeHeap(b, file) }
	}
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func writeHeap(b *testing.B, file string) {
	runtime.GC() // the profile's counts are those of the last GC
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func perEvent(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(max(n, 1)) }

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
