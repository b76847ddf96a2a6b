package mirakl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/sla"
)

// The deadline benchmark's shape: every account's policy, and where its
// deadlines fall. Warnings are due over the first dlSpread of the window,
// breaches dlWarnBefore later, so both kinds come due, mixed, over
// dlWarnBefore+dlSpread.
// dlSpread is THREADSYNC_BENCH_DEADLINE_SPREAD (default 5m: 200,000
// deadlines over 5 minutes, some 600 a second; 40s gives 3,300 a second,
// which is past what one engine on 2 cores can poll for).
var (
	dlSpread = 5 * time.Minute
	dlWindow = dlWarnBefore + dlSpread
)

const (
	dlReplyWithin = time.Hour
	dlWarnBefore  = 20 * time.Second
	dlQuiet       = 20 * time.Second // the quiet phase measured before the window
)

// BenchmarkDeadlines follows 100,000 open reply-needed episodes over 10,000
// Mirakl accounts of 10 threads each, on one engine, through Redis and
// JetStream. Every account has a policy (reply within 1h, warn 20 s
// before); the customer messages are dated so that the 100,000 warnings
// and 100,000 breaches come due spread over a window (5m20s by default) that starts
// once the initial sync is well over. It measures how late JetStream
// stores each warning and breach after its time (p50, p99, max), the
// Redis commands per second in a quiet phase before the window (every
// episode open, nothing due) and during it, and the polls the deadlines
// caused: accounts poll every 10 minutes, so those are the only polls of
// the window. It prints one row of the README's deadline table, and fails
// when a warning or breach is missing or stored twice, or when the p99
// lateness of either passes 1 s.
//
// Redis is a private redis-server without persistence when one is on the
// PATH, so that its command counters count this benchmark only; otherwise
// the test Redis, whose counters then include any other client's.
//
// Environment, for smaller runs and for looking into one:
//   - THREADSYNC_BENCH_DEADLINE_ACCOUNTS: accounts (default 10000)
//   - THREADSYNC_BENCH_DEADLINE_THREADS: threads per account (default 10)
//   - THREADSYNC_BENCH_DEADLINE_LEAD: from the seeding to the window
//     (default 2m; it must cover the initial sync and the quiet phase)
//   - THREADSYNC_BENCH_DEADLINE_POLL_INTERVAL: the accounts' (default 10m)
//   - THREADSYNC_BENCH_DEADLINE_REDIS_POOL: the Redis client's pool size
//     (default go-redis's, as threadsync's own client has it)
//   - THREADSYNC_BENCH_DEADLINE_LOG: a file for the engine's debug log and
//     a trace of the timers' store calls
//   - THREADSYNC_BENCH_DEADLINE_PROFILE: a directory for a CPU profile of
//     the window and the goroutines halfway through it
func BenchmarkDeadlines(b *testing.B) {
	dlSpread = dlEnvDuration(b, "THREADSYNC_BENCH_DEADLINE_SPREAD", dlSpread)
	dlWindow = dlWarnBefore + dlSpread
	cfg := dlConfig{
		accounts: dlEnvInt(b, "THREADSYNC_BENCH_DEADLINE_ACCOUNTS", 10000),
		threads:  dlEnvInt(b, "THREADSYNC_BENCH_DEADLINE_THREADS", 10),
		lead:     dlEnvDuration(b, "THREADSYNC_BENCH_DEADLINE_LEAD", 2*time.Minute),
		interval: dlEnvDuration(b, "THREADSYNC_BENCH_DEADLINE_POLL_INTERVAL", 10*time.Minute),
	}
	for range b.N {
		benchDeadlines(b, cfg)
	}
}

type dlConfig struct {
	accounts, threads int
	lead, interval    time.Duration
}

func benchDeadlines(b *testing.B, cfg dlConfig) {
	began := time.Now()
	episodes := cfg.accounts * cfg.threads
	want := 2 * episodes

	// The window starts lead from now, on a whole millisecond (timers
	// keep milliseconds).
	t0 := time.Now().Add(cfg.lead).Truncate(time.Millisecond)
	policy, err := sla.Parse("bench", sla.Spec{ReplyWithin: dlReplyWithin.String(), WarnBefore: dlWarnBefore.String()})
	if err != nil {
		b.Fatal(err)
	}

	// One simulator serves every shop, as in BenchmarkManyAccounts. Each
	// thread has one customer message, whose time is the episode's
	// needed_since: its warning falls at a random millisecond of the
	// spread, its breach dlWarnBefore later.
	sim := miraklsim.New(miraklsim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	rnd := rand.New(rand.NewPCG(7, 8))
	accts := make([]pollers.Account, cfg.accounts)
	offsets := make([]time.Duration, cfg.threads)
	for i := range cfg.accounts {
		id := strconv.Itoa(100000 + i)
		key := randomKey()
		sim.AddShop(id, key)
		for j := range offsets {
			offsets[j] = time.Duration(rnd.Int64N(int64(dlSpread/time.Millisecond))) * time.Millisecond
		}
		slices.Sort(offsets) // times increase within a shop, as they would
		for j, off := range offsets {
			since := t0.Add(off).Add(dlWarnBefore).Add(-dlReplyWithin)
			th := sim.AddThread(id, miraklsim.NewThread{Customer: "Customer " + strconv.Itoa(j), At: since})
			sim.AddMessage(id, th, miraklsim.Customer, "Where is my parcel?", since)
		}
		accts[i] = pollers.Account{Provider: mirakl.Name, ID: "shop-" + id, BaseURL: srv.URL, Token: key,
			PollInterval: cfg.interval, SLA: policy, Options: map[string]string{"shop_id": id}}
	}
	dSeed := time.Since(began)

	rdb, private := dlRedis(b)
	rt := &roundTrips{}
	rdb.AddHook(rt)
	store, err := checkpoint.New(rdb, checkpointtest.Prefix(b, rdb))
	if err != nil {
		b.Fatal(err)
	}
	js := eventstest.Start(b)
	pub := &dlSends{next: js.Publisher, ids: make(map[string]int, want)}
	col := newDLCollector(want, t0)
	stopConsumer := col.consume(b, js)
	defer stopConsumer()

	var polls, synced, pollErrs atomic.Int64
	var firstErr atomic.Pointer[string]
	syncDone := make(chan struct{})
	logger := dlLogger(b)
	st := &dlStore{Store: store, log: logger, trace: os.Getenv("THREADSYNC_BENCH_DEADLINE_LOG") != ""}
	e, err := pollers.New(pollers.Config{
		Store: st, Publisher: pub, Logger: logger,
		Providers: map[string]pollers.Factory{mirakl.Name: mirakl.New},
		OnPoll: func(a pollers.Account, st pollers.Stats, err error) {
			polls.Add(1)
			if err != nil {
				if pollErrs.Add(1) == 1 {
					s := a.String() + ": " + err.Error()
					firstErr.Store(&s)
				}
				return
			}
			if st.Walk == pollers.WalkInitial && st.Completed && synced.Add(1) == int64(cfg.accounts) {
				close(syncDone)
			}
		},
	}, accts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	syncStart := time.Now()
	go func() { runDone <- e.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-runDone; err != nil {
			b.Errorf("run: %v", err)
		}
	})
	defer stop()

	if testing.Verbose() {
		// Progress on stderr while it runs (-test.v).
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				fmt.Fprintf(os.Stderr, "deadlines: %s to the window: %d synced, %d polls (%d failed), %d warnings and breaches stored\n",
					time.Until(t0).Round(time.Second), synced.Load(), polls.Load(), pollErrs.Load(), col.count())
			}
		}()
	}

	quietFrom := t0.Add(-dlQuiet - time.Second)
	select {
	case <-syncDone:
	case <-time.After(time.Until(quietFrom)):
		b.Fatalf("the initial sync of %d accounts did not finish within %s of the seeding (%d done, %d polls, %d failed): raise THREADSYNC_BENCH_DEADLINE_LEAD",
			cfg.accounts, cfg.lead, synced.Load(), polls.Load(), pollErrs.Load())
	}
	dSync := time.Since(syncStart)
	if n := col.count(); n != 0 {
		b.Fatalf("%d SLA events before any deadline", n)
	}

	// Quiet phase: every episode open, no deadline due.
	time.Sleep(time.Until(quietFrom))
	q0 := dlSnapshot(b, rdb, rt, st, &polls)
	stopProbe := dlPingProbe(rdb)
	time.Sleep(time.Until(t0.Add(-time.Second)))
	quietPings := stopProbe()
	q1 := dlSnapshot(b, rdb, rt, st, &polls)

	// The window, until the last warning or breach is in.
	time.Sleep(time.Until(t0))
	w0 := dlSnapshot(b, rdb, rt, st, &polls)
	stopProfile := dlProfile(b, t0)
	stopProbe = dlPingProbe(rdb)
	limit := dlWindow + 3*time.Minute
	select {
	case <-col.done:
	case <-time.After(time.Until(t0.Add(limit))):
	}
	w1 := dlSnapshot(b, rdb, rt, st, &polls)
	stopProfile()
	pings := stopProbe()
	got, dups := col.result()
	if err := col.err(); err != nil {
		b.Fatalf("an SLA event could not be read: %v", err)
	}
	if got != want {
		b.Fatalf("%d of %d warnings and breaches in %s after the window began (%d warnings, %d breaches)",
			got, want, limit, len(col.warn), len(col.breach))
	}
	if dups > 0 {
		b.Fatalf("%d warnings or breaches stored twice", dups)
	}
	if col.outside > 0 {
		b.Errorf("%d warnings or breaches are dated outside the window, such as %s", col.outside, col.firstOutside)
	}
	stop()
	if n := pollErrs.Load(); n > 0 {
		b.Errorf("%d polls failed; the first: %s", n, *firstErr.Load())
	}

	quiet, window := q1.sub(q0), w1.sub(w0)
	perS := func(d dlDelta) float64 { return float64(d.cmds) / d.took.Seconds() }
	warn, breach := dlLatencies(col.warn), dlLatencies(col.breach)
	b.ReportMetric(dlMS(warn.p50), "warn_p50_ms")
	b.ReportMetric(dlMS(warn.p99), "warn_p99_ms")
	b.ReportMetric(dlMS(warn.max), "warn_max_ms")
	b.ReportMetric(dlMS(breach.p50), "breach_p50_ms")
	b.ReportMetric(dlMS(breach.p99), "breach_p99_ms")
	b.ReportMetric(dlMS(breach.max), "breach_max_ms")
	b.ReportMetric(perS(quiet), "redis_cmds_per_s_quiet")
	b.ReportMetric(perS(window), "redis_cmds_per_s_window")
	b.ReportMetric(float64(window.cmds)/float64(want), "redis_cmds_per_timer")
	b.ReportMetric(float64(window.polls), "polls_window")

	b.Logf("seeded %d accounts × %d threads in %s; initial sync in %s; the window began %s after the seeding",
		cfg.accounts, cfg.threads, dSeed.Round(time.Millisecond), dSync.Round(time.Millisecond), t0.Sub(began.Add(dSeed)).Round(time.Second))
	b.Logf("redis: private server %v; quiet %s: %d commands (%d round trips, %.0f%% of a core), %d polls", private,
		quiet.took.Round(time.Millisecond), quiet.cmds, quiet.trips, 100*quiet.redisCPU/quiet.took.Seconds(), quiet.polls)
	b.Logf("window %s (until the last event was stored): %d commands (%d round trips, %.0f%% of a core), %d polls, this process %.0f%% of the 2 cores; commands: %s",
		window.took.Round(time.Millisecond), window.cmds, window.trips, 100*window.redisCPU/window.took.Seconds(),
		window.polls, 100*window.procCPU/window.took.Seconds()/2, window.topCommands(8))
	b.Logf("store calls in the window: %s; firings (DueTimers calls) per warning or breach: %.2f",
		window.storeCalls(), float64(window.calls[callDueTimers].n)/float64(want))
	b.Logf("a PING every 50 ms on a connection of its own: quiet p50 %s p99 %s; window p50 %s p99 %s max %s",
		quietPings.p50, quietPings.p99, pings.p50, pings.p99, pings.max)
	b.Logf("warnings: p50 %s p99 %s max %s min %s; breaches: p50 %s p99 %s max %s min %s; unconfirmed %d; events sent more than once %d",
		warn.p50, warn.p99, warn.max, warn.min, breach.p50, breach.p99, breach.max, breach.min, col.unconfirmed, pub.dups())
	b.Logf("the latest: %s, %s after its time", col.worstEvent, col.worst.late)
	b.Logf("peak RSS of the process (simulator and JetStream included): %s", peakRSS())
	b.Logf("worst lateness by second of the window (warnings | breaches): %s", col.timeline(t0))

	fmt.Printf("| deadlines | %s accounts | %s episodes | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f | %.1f → %.0f | %.2f | %d |\n",
		dlThousands(cfg.accounts), dlThousands(episodes),
		dlMS(warn.p50), dlMS(warn.p99), dlMS(warn.max), dlMS(breach.p50), dlMS(breach.p99), dlMS(breach.max),
		perS(quiet), perS(window), float64(window.cmds)/float64(want), window.polls)

	if warn.p99 > time.Second || breach.p99 > time.Second {
		b.Errorf("p99 lateness: warnings %s, breaches %s; the target is at most 1 s", warn.p99, breach.p99)
	}
	if pub.dups() > 0 {
		b.Errorf("the engine sent %d warnings or breaches more than once", pub.dups())
	}
}

// dlSends counts the warnings and breaches the engine sends, by id, to
// catch a second sending that JetStream's deduplication would hide.
type dlSends struct {
	next pollers.Publisher
	mu   sync.Mutex
	ids  map[string]int
	dup  int
}

func (p *dlSends) Send(ctx context.Context, evs []events.Event) *events.Pending {
	p.mu.Lock()
	for i := range evs {
		if t := evs[i].Type; t == events.ReplySLAWarning || t == events.ReplySLABreached {
			if p.ids[evs[i].ID]++; p.ids[evs[i].ID] == 2 {
				p.dup++
			}
		}
	}
	p.mu.Unlock()
	return p.next.Send(ctx, evs)
}

func (p *dlSends) dups() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dup
}

// dlCollector reads the warnings and breaches from the stream, with how
// late JetStream stored each after its time.
type dlCollector struct {
	want int
	done chan struct{}

	mu          sync.Mutex
	seen        map[string]bool
	dups        int
	warn        []dlLate
	breach      []dlLate
	unconfirmed int
	bad         error
	worst       dlLate
	worstEvent  string // its subject and id
	// outside counts the events dated outside the window; firstOutside
	// names the first.
	t0           time.Time
	outside      int
	firstOutside string
}

type dlLate struct {
	at   time.Time // the event's time: warn_at or due_at
	late time.Duration
}

func newDLCollector(want int, t0 time.Time) *dlCollector {
	return &dlCollector{want: want, t0: t0, done: make(chan struct{}), seen: make(map[string]bool, want),
		warn: make([]dlLate, 0, want/2), breach: make([]dlLate, 0, want/2)}
}

// consume reads with an ordered consumer over the two subjects until the
// returned function is called.
func (c *dlCollector) consume(b *testing.B, js *eventstest.Env) (stop func()) {
	ctx := context.Background()
	s, err := js.JS.Stream(ctx, js.Stream)
	if err != nil {
		b.Fatal(err)
	}
	oc, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{
		js.Prefix + ".*.*." + events.ReplySLAWarning.SubjectSuffix(),
		js.Prefix + ".*.*." + events.ReplySLABreached.SubjectSuffix(),
	}})
	if err != nil {
		b.Fatal(err)
	}
	cc, err := oc.Consume(c.handle)
	if err != nil {
		b.Fatal(err)
	}
	return cc.Stop
}

func (c *dlCollector) handle(m jetstream.Msg) {
	md, err := m.Metadata()
	var ev struct {
		ID   string      `json:"id"`
		Type events.Type `json:"type"`
		Time time.Time   `json:"time"`
		Data struct {
			Confirmed *bool `json:"confirmed"`
		} `json:"data"`
	}
	if err == nil {
		err = json.Unmarshal(m.Data(), &ev)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.bad = err
		return
	}
	if c.seen[ev.ID] {
		c.dups++
		return
	}
	c.seen[ev.ID] = true
	l := dlLate{at: ev.Time, late: md.Timestamp.Sub(ev.Time)}
	if l.late > c.worst.late {
		c.worst, c.worstEvent = l, m.Subject()+" "+ev.ID
	}
	switch ev.Type {
	case events.ReplySLAWarning:
		c.warn = append(c.warn, l)
	case events.ReplySLABreached:
		c.breach = append(c.breach, l)
	}
	if ev.Time.Before(c.t0) || ev.Time.After(c.t0.Add(dlWindow)) {
		if c.outside++; c.outside == 1 {
			c.firstOutside = fmt.Sprintf("%s %s dated %s", m.Subject(), ev.ID, ev.Time.Format(time.RFC3339Nano))
		}
	}
	if ev.Data.Confirmed != nil && !*ev.Data.Confirmed {
		c.unconfirmed++
	}
	if len(c.seen) == c.want {
		close(c.done)
	}
}

func (c *dlCollector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *dlCollector) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bad
}

func (c *dlCollector) result() (got, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen), c.dups
}

// timeline is the worst lateness of the events due in each second of the
// window, as "second:warnings|breaches" in ms, for seconds where either
// passes 100 ms.
func (c *dlCollector) timeline(t0 time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := int(dlWindow/time.Second) + 1
	w, br := make([]time.Duration, n), make([]time.Duration, n)
	put := func(into []time.Duration, ls []dlLate) {
		for _, l := range ls {
			if i := int(l.at.Sub(t0) / time.Second); i >= 0 && i < n {
				into[i] = max(into[i], l.late)
			}
		}
	}
	put(w, c.warn)
	put(br, c.breach)
	var sb strings.Builder
	for i := range n {
		if w[i] > 100*time.Millisecond || br[i] > 100*time.Millisecond {
			fmt.Fprintf(&sb, "%d:%.0f|%.0f ", i, dlMS(w[i]), dlMS(br[i]))
		}
	}
	if sb.Len() == 0 {
		return "none over 100 ms"
	}
	return sb.String()
}

type dlStats struct{ p50, p99, max, min time.Duration }

func dlLatencies(ls []dlLate) dlStats {
	if len(ls) == 0 {
		return dlStats{}
	}
	d := make([]time.Duration, len(ls))
	for i, l := range ls {
		d[i] = l.late
	}
	slices.Sort(d)
	rank := func(q float64) time.Duration { return d[max(int(q*float64(len(d))+0.999999)-1, 0)] }
	return dlStats{p50: rank(0.50), p99: rank(0.99), max: d[len(d)-1], min: d[0]}
}

func dlMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// dlPhase is what the counters said at one moment.
type dlPhase struct {
	at       time.Time
	cmds     int64            // total_commands_processed, commands run by scripts included
	stats    map[string]int64 // calls by command, from INFO commandstats
	trips    int64            // round trips from this process
	polls    int64
	redisCPU float64 // Redis's CPU seconds, user and system
	procCPU  float64 // this process's
	calls    dlCallCounts
}

type dlDelta struct {
	took        time.Duration
	cmds, trips int64
	polls       int64
	redisCPU    float64
	procCPU     float64
	stats       map[string]int64
	calls       dlCallCounts
}

func dlSnapshot(b *testing.B, rdb *redis.Client, rt *roundTrips, st *dlStore, polls *atomic.Int64) dlPhase {
	p := dlPhase{at: time.Now(), trips: rt.n.Load(), polls: polls.Load(), stats: map[string]int64{}, calls: st.read()}
	info, err := rdb.Info(context.Background(), "stats", "commandstats", "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case k == "total_commands_processed":
			p.cmds, _ = strconv.ParseInt(v, 10, 64)
		case k == "used_cpu_sys" || k == "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			p.redisCPU += f
		case strings.HasPrefix(k, "cmdstat_"):
			calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			p.stats[strings.TrimPrefix(k, "cmdstat_")], _ = strconv.ParseInt(calls, 10, 64)
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		p.procCPU = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return p
}

func (p dlPhase) sub(q dlPhase) dlDelta {
	d := dlDelta{took: p.at.Sub(q.at), cmds: p.cmds - q.cmds, trips: p.trips - q.trips, polls: p.polls - q.polls,
		redisCPU: p.redisCPU - q.redisCPU, procCPU: p.procCPU - q.procCPU, stats: map[string]int64{}}
	for i := range d.calls {
		d.calls[i].n, d.calls[i].nanos = p.calls[i].n-q.calls[i].n, p.calls[i].nanos-q.calls[i].nanos
	}
	for k, v := range p.stats {
		if n := v - q.stats[k]; n > 0 {
			d.stats[k] = n
		}
	}
	// The probe's PINGs (dlPingProbe) are not the engine's.
	d.cmds -= d.stats["ping"]
	delete(d.stats, "ping")
	return d
}

// storeCalls lists the store calls made, with their mean time.
func (d dlDelta) storeCalls() string {
	var parts []string
	for i, c := range d.calls {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d (mean %s)", dlCallNames[i], c.n, time.Duration(c.nanos/c.n).Round(time.Microsecond)))
		}
	}
	return strings.Join(parts, ", ")
}

// topCommands names the n commands called most, with their calls.
func (d dlDelta) topCommands(n int) string {
	keys := make([]string, 0, len(d.stats))
	for k := range d.stats {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return int(d.stats[b] - d.stats[a]) })
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %d", k, d.stats[k]))
	}
	return strings.Join(parts, ", ")
}

// dlRedis is a private redis-server without persistence, stopped when
// the benchmark ends, when the binary is on the PATH (its counters are then
// this benchmark's alone); otherwise the test Redis.
func dlRedis(b *testing.B) (*redis.Client, bool) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		b.Logf("no redis-server on the PATH: using the test Redis, whose command counters include other clients'")
		return checkpointtest.Redis(b), false
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", b.TempDir(),
		"--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	// The pool as threadsync's own client has it (go-redis's default, 10
	// per CPU), unless THREADSYNC_BENCH_DEADLINE_REDIS_POOL says otherwise.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port),
		PoolSize: dlEnvInt(b, "THREADSYNC_BENCH_DEADLINE_REDIS_POOL", 0)})
	b.Cleanup(func() { _ = rdb.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			b.Fatalf("private redis-server on port %d did not answer", port)
		}
		time.Sleep(20 * time.Millisecond) // a process without a readiness signal
	}
	return rdb, true
}

// dlStore counts the store calls polls and firings make, with their time,
// and logs those of the timers to the debug log when trace is set
// (THREADSYNC_BENCH_DEADLINE_LOG).
type dlStore struct {
	*checkpoint.Store
	log   *slog.Logger
	trace bool
	calls [dlCalls]struct{ n, nanos atomic.Int64 }
}

// The store calls dlStore counts.
const (
	callAcquire = iota
	callCursor
	callThreads
	callCommit
	callDueTimers
	callDoneTimers
	dlCalls
)

var dlCallNames = [dlCalls]string{"Acquire", "Cursor", "Threads", "Commit", "DueTimers", "DoneTimers"}

func (s *dlStore) count(call int, since time.Time) {
	s.calls[call].n.Add(1)
	s.calls[call].nanos.Add(int64(time.Since(since)))
}

// dlCallCounts is a reading of dlStore's counters.
type dlCallCounts [dlCalls]struct{ n, nanos int64 }

func (s *dlStore) read() dlCallCounts {
	var c dlCallCounts
	for i := range c {
		c[i].n, c[i].nanos = s.calls[i].n.Load(), s.calls[i].nanos.Load()
	}
	return c
}

func (s *dlStore) Acquire(ctx context.Context, a checkpoint.Account, ttl time.Duration) (checkpoint.Lease, error) {
	defer s.count(callAcquire, time.Now())
	l, err := s.Store.Acquire(ctx, a, ttl)
	if s.trace {
		s.log.Debug("trace Acquire", "account", "mirakl/"+a.ID, "next", l.NextTimer.Format("15:04:05.000"), "error", err)
	}
	return l, err
}

func (s *dlStore) Cursor(ctx context.Context, a checkpoint.Account) (checkpoint.Cursor, error) {
	defer s.count(callCursor, time.Now())
	return s.Store.Cursor(ctx, a)
}

func (s *dlStore) Threads(ctx context.Context, a checkpoint.Account, ids []string) ([]*checkpoint.ThreadState, error) {
	defer s.count(callThreads, time.Now())
	return s.Store.Threads(ctx, a, ids)
}

func (s *dlStore) Commit(ctx context.Context, l checkpoint.Lease, c checkpoint.Cursor, states map[string]*checkpoint.ThreadState, t checkpoint.TimerChanges) (time.Time, error) {
	defer s.count(callCommit, time.Now())
	first, err := s.Store.Commit(ctx, l, c, states, t)
	if s.trace {
		s.log.Debug("trace Commit", "account", "mirakl/"+l.Account.ID, "first", first.Format("15:04:05.000"), "states", len(states), "error", err)
	}
	return first, err
}

func (s *dlStore) DueTimers(ctx context.Context, a checkpoint.Account, now time.Time, n int) ([]checkpoint.DueTimer, error) {
	defer s.count(callDueTimers, time.Now())
	due, err := s.Store.DueTimers(ctx, a, now, n)
	if s.trace {
		var kinds []string
		for _, t := range due {
			kinds = append(kinds, fmt.Sprintf("%c@%s", t.Kind, t.At.Format("15:04:05.000")))
		}
		s.log.Debug("trace DueTimers", "account", "mirakl/"+a.ID, "now", now.Format("15:04:05.000000"), "due", kinds, "error", err)
	}
	return due, err
}

func (s *dlStore) DoneTimers(ctx context.Context, l checkpoint.Lease, fired []checkpoint.DueTimer, states map[string]*checkpoint.ThreadState, after time.Time) (time.Time, error) {
	defer s.count(callDoneTimers, time.Now())
	next, err := s.Store.DoneTimers(ctx, l, fired, states, after)
	if s.trace {
		s.log.Debug("trace DoneTimers", "account", "mirakl/"+l.Account.ID, "fired", len(fired), "states", len(states), "next", next.Format("15:04:05.000"), "error", err)
	}
	return next, err
}

// dlPingProbe times a PING every 50 ms on a connection of its own, apart
// from the engine's pool, until the returned function is called: how long
// a Redis round trip takes in this process beside the engine's load.
func dlPingProbe(rdb *redis.Client) (stop func() dlPings) {
	opts := *rdb.Options()
	opts.PoolSize, opts.MinIdleConns = 1, 1
	probe := redis.NewClient(&opts)
	done := make(chan struct{})
	res := make(chan dlPings, 1)
	go func() {
		defer probe.Close()
		var took []dlLate
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				s := dlLatencies(took)
				res <- dlPings{p50: s.p50, p99: s.p99, max: s.max, n: len(took)}
				return
			case <-t.C:
			}
			start := time.Now()
			if probe.Ping(context.Background()).Err() == nil {
				took = append(took, dlLate{late: time.Since(start)})
			}
		}
	}()
	return func() dlPings { close(done); return <-res }
}

type dlPings struct {
	p50, p99, max time.Duration
	n             int
}

// dlProfile, when THREADSYNC_BENCH_DEADLINE_PROFILE names a directory,
// profiles the window: the CPU until the returned function is called
// (cpu.pprof), and the goroutines halfway through the window
// (goroutines.txt).
func dlProfile(b *testing.B, t0 time.Time) (stop func()) {
	dir := os.Getenv("THREADSYNC_BENCH_DEADLINE_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	t := time.AfterFunc(time.Until(t0.Add(dlWindow/2)), func() {
		g, err := os.Create(filepath.Join(dir, "goroutines.txt"))
		if err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(g, 1)
			_ = g.Close()
		}
	})
	return func() {
		t.Stop()
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// dlLogger writes the engine's debug logs, as JSON, to the file
// THREADSYNC_BENCH_DEADLINE_LOG names; without it, only warnings and
// errors go to stderr.
func dlLogger(b *testing.B) *slog.Logger {
	path := os.Getenv("THREADSYNC_BENCH_DEADLINE_LOG")
	if path == "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func dlEnvInt(b *testing.B, name string, def int) int {
	return dlEnv(b, name, def, strconv.Atoi, "a positive integer")
}

func dlEnvDuration(b *testing.B, name string, def time.Duration) time.Duration {
	return dlEnv(b, name, def, time.ParseDuration, "a positive duration")
}

// dlEnv is the variable name parsed by parse, or def when it is unset; a
// value that is not a positive want fails the benchmark.
func dlEnv[T int | time.Duration](b *testing.B, name string, def T, parse func(string) (T, error), want string) T {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := parse(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want %s", name, v, want)
	}
	return n
}

// dlThousands writes n with commas: 10,000.
func dlThousands(n int) string {
	s := strconv.Itoa(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
