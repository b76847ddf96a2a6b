package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// BenchmarkScale runs threadsync as a user would at scale, every part a
// process of its own: providersim serving SCALE_ACCOUNTS accounts (default
// 10,000, an even mix of the five providers) of SCALE_THREADS threads
// (default 100) with four messages each, a nats-server built from the
// pinned module, a private redis-server, and the threadsync binary's run
// command at the default 30 s interval. It measures the initial full sync,
// threadsync's memory after it and in steady state, Redis' memory per
// thread, the cost of idle polling and, with live traffic, how long a new
// message takes from its provider time to the stream. It prints a table row
// and a machine-readable `scale:` line.
func BenchmarkScale(b *testing.B) {
	cfg := scaleConfig{
		accounts: envInt(b, "SCALE_ACCOUNTS", 10_000),
		threads:  envInt(b, "SCALE_THREADS", 100),
		interval: envDuration(b, "SCALE_INTERVAL", 30*time.Second),
		idle:     envDuration(b, "SCALE_IDLE", 60*time.Second),
		live:     envDuration(b, "SCALE_LIVE", 60*time.Second),
		rate:     envFloat(b, "SCALE_RATE", 20),
	}
	for range b.N {
		runScale(b, cfg)
	}
}

type scaleConfig struct {
	accounts, threads int
	interval          time.Duration
	idle, live        time.Duration // the idle window measured, and the live traffic's
	rate              float64       // live messages a second across all accounts
}

// scaleResult is what one run measured.
type scaleResult struct {
	threads          int
	syncTime         time.Duration
	events           uint64
	rssSync, rssLive int // MiB
	redisPerThread   float64
	idlePollsPerS    float64
	cpuPer1000Polls  float64 // CPU seconds
	idleCPUPct       float64 // of one core
	live             int     // messages written during the live window and detected
	p50, p99, pmax   time.Duration
	goroutines       int
}

func runScale(b *testing.B, c scaleConfig) {
	dir := b.TempDir()
	bins := buildScaleBinaries(b, dir)
	ctx := context.Background()

	rdb := startScaleRedis(b, dir)
	baseline := usedMemory(b, rdb)
	natsURL := startScaleNATS(b, bins, dir)

	per := c.accounts / 5
	simArgs := []string{"-listen", "127.0.0.1:0", "-seed-threads", strconv.Itoa(c.threads), "-rate", "0",
		"-accounts-out", filepath.Join(dir, "accounts.sim.yaml"),
		"-hubspot-accounts", strconv.Itoa(per), "-mirakl-shops", strconv.Itoa(c.accounts - 4*per),
		"-olx-accounts", strconv.Itoa(per), "-partizap-accounts", strconv.Itoa(per), "-selfcommunity-accounts", strconv.Itoa(per)}
	simProc := startScaleProc(b, "providersim", filepath.Join(bins, "providersim"), nil, simArgs...)
	simAddr := simProc.waitFor(b, regexp.MustCompile(`msg=listening addr=(\S+)`), 10*time.Minute)
	accounts := filepath.Join(dir, "accounts.yaml")
	rewriteAccounts(b, filepath.Join(dir, "accounts.sim.yaml"), accounts)

	env := []string{
		"THREADSYNC_ACCOUNTS=" + accounts, "REDIS_URL=" + "redis://" + rdb.Options().Addr + "/0", "NATS_URL=" + natsURL,
		"THREADSYNC_STREAM=SCALE", "THREADSYNC_HTTP_ADDR=127.0.0.1:0", "THREADSYNC_POLL_INTERVAL=" + c.interval.String(),
		"THREADSYNC_ACCOUNTS_RELOAD=0", "THREADSYNC_PPROF=true", "HOME=" + dir, "PATH=" + os.Getenv("PATH"),
	}
	start := time.Now()
	ts := startScaleProc(b, "threadsync", filepath.Join(bins, "threadsync"), env, "run")
	health := "http://" + ts.waitFor(b, healthAddr, time.Minute)

	nc, err := nats.Connect(natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}

	// The initial sync is over once every account has polled and the
	// stream stops growing.
	var r scaleResult
	r.threads = c.accounts * c.threads
	var last uint64
	var lastChange time.Time
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for range ticker.C {
		m := scrapeMetrics(b, health)
		msgs := streamMsgs(ctx, js)
		if msgs != last {
			last, lastChange = msgs, time.Now()
		}
		if m[`threadsync_accounts{state="ok"}`] >= float64(c.accounts) && msgs > 0 && time.Since(lastChange) > 3*time.Second {
			break
		}
		if time.Since(start) > 2*time.Hour {
			b.Fatalf("initial sync not done after 2 h: %d events, metrics %v", msgs, m)
		}
	}
	r.syncTime, r.events = lastChange.Sub(start), last
	r.rssSync = rss(ts.cmd.Process.Pid)
	r.redisPerThread = float64(usedMemory(b, rdb)-baseline) / float64(r.threads)
	profile(b, health, "heap-sync", "heap")
	progress("initial sync: %d events in %s, RSS %d MiB, Redis %.0f B/thread", r.events, r.syncTime.Round(time.Second), r.rssSync, r.redisPerThread)

	// Idle: nothing changes at the providers; every account polls on its
	// interval. One interval first, so the sync's stragglers are done.
	time.Sleep(c.interval) // a measurement window, not a synchronisation
	polls0, cpu0, t0 := scrapeMetrics(b, health)["threadsync_polls_total"], cpuSeconds(ts.cmd.Process.Pid), time.Now()
	cpuProfile := make(chan struct{})
	go func() {
		defer close(cpuProfile)
		profile(b, health, "cpu-idle", "profile?seconds="+strconv.Itoa(int(c.idle.Seconds())))
	}()
	time.Sleep(c.idle) // the measurement window
	polls1, cpu1, t1 := scrapeMetrics(b, health)["threadsync_polls_total"], cpuSeconds(ts.cmd.Process.Pid), time.Now()
	<-cpuProfile
	if polls1 <= polls0 {
		b.Fatalf("no polls while idle: %v → %v", polls0, polls1)
	}
	r.idlePollsPerS = (polls1 - polls0) / t1.Sub(t0).Seconds()
	r.cpuPer1000Polls = (cpu1 - cpu0) / (polls1 - polls0) * 1000
	r.idleCPUPct = (cpu1 - cpu0) / t1.Sub(t0).Seconds() * 100
	progress("idle: %.0f polls/s, %.3f CPU s per 1,000 polls, %.1f%% of a core", r.idlePollsPerS, r.cpuPer1000Polls, r.idleCPUPct)

	// Live: messages written at c.rate across all accounts; each one's
	// delay is its provider time to the stream's timestamp.
	delays := watchDelays(b, js, c)
	setTraffic(b, "http://"+simAddr, c.rate/float64(c.accounts))
	liveStart := time.Now()
	peak := 0
	for time.Since(liveStart) < c.live {
		time.Sleep(time.Second) // samples RSS during the window
		peak = max(peak, rss(ts.cmd.Process.Pid))
	}
	setTraffic(b, "http://"+simAddr, 0)
	liveEnd := time.Now()
	// Every message written before liveEnd is found within an interval and
	// a poll; the watcher stops after that.
	got := delays(liveStart, liveEnd, liveEnd.Add(c.interval+10*time.Second))
	if len(got) == 0 {
		b.Fatal("no live message reached the stream")
	}
	slices.Sort(got)
	r.live = len(got)
	r.p50, r.p99, r.pmax = got[len(got)/2], got[min(len(got)-1, len(got)*99/100)], got[len(got)-1]
	r.rssLive = max(peak, rss(ts.cmd.Process.Pid))
	profile(b, health, "heap-live", "heap")
	r.goroutines = int(scrapeMetrics(b, health)["go_goroutines"])

	fmt.Printf("| %d | %d | %.0f | %d | %.0f | %d | %d | %.0f | %.0f | %.3f | %.1f | %d | %d / %d / %d | %d |\n",
		c.accounts, r.threads, r.syncTime.Seconds(), r.events, float64(r.events)/r.syncTime.Seconds(),
		r.rssSync, r.rssLive, r.redisPerThread, r.idlePollsPerS, r.cpuPer1000Polls, r.idleCPUPct,
		r.live, r.p50.Milliseconds(), r.p99.Milliseconds(), r.pmax.Milliseconds(), r.goroutines)
	fmt.Printf("scale: scale_accounts=%d scale_threads=%d scale_sync_s=%.0f scale_events_per_s=%.0f scale_rss_mb=%d scale_rss_sync_mb=%d redis_bytes_per_thread=%.0f idle_polls_per_s=%.0f idle_cpu_s_per_1000_polls=%.3f idle_cpu_pct=%.1f p50_detect_ms=%d p99_detect_ms=%d\n",
		c.accounts, r.threads, r.syncTime.Seconds(), float64(r.events)/r.syncTime.Seconds(), r.rssLive, r.rssSync,
		r.redisPerThread, r.idlePollsPerS, r.cpuPer1000Polls, r.idleCPUPct, r.p50.Milliseconds(), r.p99.Milliseconds())
}

// buildScaleBinaries builds threadsync, providersim and nats-server
// (the version go.mod pins) without the race detector.
// profile saves threadsync's /debug/pprof/<what> as SCALE_PROFILES/<name>.pprof, if set.
func profile(b *testing.B, health, name, what string) {
	dir := os.Getenv("SCALE_PROFILES")
	if dir == "" {
		return
	}
	resp, err := http.Get(health + "/debug/pprof/" + what)
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".pprof"), raw, 0o644)
	}
	if err != nil {
		b.Error(err)
	}
}

// progress tells whoever runs the benchmark how far it is.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scale %s: %s\n", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, args...))
}

func buildScaleBinaries(b *testing.B, dir string) string {
	bins := filepath.Join(dir, "bin")
	for _, pkg := range []string{".", "../providersim", "github.com/nats-io/nats-server/v2"} {
		out, err := exec.Command("go", "build", "-o", bins+"/", pkg).CombinedOutput()
		if err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return bins
}

// scaleProc is a process of the benchmark, its output kept.
type scaleProc struct {
	cmd  *exec.Cmd
	logs *pollerstest.Buffer
}

func startScaleProc(b *testing.B, name, bin string, env []string, args ...string) *scaleProc {
	p := &scaleProc{cmd: exec.Command(bin, args...), logs: &pollerstest.Buffer{}}
	if env != nil {
		p.cmd.Env = env
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-exited
		if b.Failed() {
			b.Logf("%s output (tail):\n%s", name, lastBytes(p.logs.String(), 4000))
		}
	})
	return p
}

// waitFor returns re's first group once the process has written a line it matches.
func (p *scaleProc) waitFor(b *testing.B, re *regexp.Regexp, limit time.Duration) string {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.logs.String()); m != nil {
			return m[1]
		}
		if p.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // the output has no other signal
	}
	b.Fatalf("%s: no line matching %s:\n%s", p.cmd.Path, re, lastBytes(p.logs.String(), 4000))
	return ""
}

func lastBytes(s string, n int) string { return s[max(0, len(s)-n):] }

// startScaleRedis starts a redis-server of the benchmark's own, so its memory is threadsync's alone.
func startScaleRedis(b *testing.B, dir string) *redis.Client {
	port := freePort(b)
	p := startScaleProc(b, "redis-server", "redis-server", nil, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	p.waitFor(b, regexp.MustCompile(`(Ready to accept connections)`), 30*time.Second)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	b.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	return rdb
}

func startScaleNATS(b *testing.B, bins, dir string) string {
	port := freePort(b)
	p := startScaleProc(b, "nats-server", filepath.Join(bins, "nats-server"), nil,
		"-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", filepath.Join(dir, "nats"))
	p.waitFor(b, regexp.MustCompile(`(Server is ready)`), 30*time.Second)
	return "nats://127.0.0.1:" + strconv.Itoa(port)
}

func freePort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// rewriteAccounts makes providersim's accounts file the benchmark's: the
// default poll interval, and no pace of threadsync's own, since the
// simulators do not limit.
func rewriteAccounts(b *testing.B, from, to string) {
	raw, err := os.ReadFile(from)
	if err != nil {
		b.Fatal(err)
	}
	var doc struct {
		Accounts []map[string]any `yaml:"accounts"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	for _, a := range doc.Accounts {
		delete(a, "poll_interval")
		opts, _ := a["options"].(map[string]any)
		if opts == nil {
			opts = map[string]any{}
		}
		opts["requests_per_second"] = "1000"
		a["options"] = opts
	}
	out, err := yaml.Marshal(doc)
	if err == nil {
		err = os.WriteFile(to, out, 0o600)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// setTraffic sets providersim's live messages a second per account.
func setTraffic(b *testing.B, base string, perAccount float64) {
	body := strings.NewReader(fmt.Sprintf(`{"rate":%g}`, perAccount))
	req, _ := http.NewRequest(http.MethodPut, base+"/_admin/traffic", body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(resp.Body)
		b.Fatalf("PUT /_admin/traffic: %s %s", resp.Status, msg)
	}
}

// watchDelays reads every MessageReceived stored from now on. The function
// it returns waits until the stream's clock passes until, then returns the
// delays of the messages whose provider time lies in [from, to).
func watchDelays(b *testing.B, js jetstream.JetStream, c scaleConfig) func(from, to, until time.Time) []time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	cons, err := js.OrderedConsumer(ctx, "SCALE", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"inbox.*.*.message.received"}, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		b.Fatal(err)
	}
	type seen struct {
		provider   string
		at, stored time.Time
	}
	var mu sync.Mutex
	var all []seen
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var ev struct {
			Data struct {
				Message struct {
					CreatedAt time.Time `json:"created_at"`
				} `json:"message"`
			} `json:"data"`
		}
		md, err := m.Metadata()
		if err != nil || json.Unmarshal(m.Data(), &ev) != nil {
			return
		}
		mu.Lock()
		all = append(all, seen{strings.Split(m.Subject(), ".")[1], ev.Data.Message.CreatedAt, md.Timestamp})
		mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	return func(from, to, until time.Time) []time.Duration {
		time.Sleep(time.Until(until)) // the window in which the last messages are found
		cc.Stop()
		mu.Lock()
		defer mu.Unlock()
		var out []time.Duration
		by := map[string][]time.Duration{}
		for _, s := range all {
			if !s.at.Before(from) && s.at.Before(to) {
				out = append(out, s.stored.Sub(s.at))
				by[s.provider] = append(by[s.provider], s.stored.Sub(s.at))
			}
		}
		for _, p := range slices.Sorted(maps.Keys(by)) {
			d := by[p]
			slices.Sort(d)
			progress("detection, %s: %d messages, p50 %s, p99 %s", p, len(d), d[len(d)/2].Round(time.Millisecond), d[len(d)*99/100].Round(time.Millisecond))
		}
		return out
	}
}

func streamMsgs(ctx context.Context, js jetstream.JetStream) uint64 {
	s, err := js.Stream(ctx, "SCALE")
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// scrapeMetrics reads threadsync's /metrics: each series (labels but the
// service's own) summed by name and, with its labels, on its own.
func scrapeMetrics(b *testing.B, base string) map[string]float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			continue
		}
		series := line[:i]
		name, labels, _ := strings.Cut(series, "{")
		out[name] += v
		for l := range strings.SplitSeq(strings.TrimSuffix(labels, "}"), ",") {
			if l != "" && !strings.HasPrefix(l, "otel_scope") && !strings.HasPrefix(l, "job") {
				out[name+"{"+l+"}"] += v
			}
		}
	}
	return out
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO")
	return 0
}

// rss is the process's resident set in MiB.
func rss(pid int) int {
	raw, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.Fields(v)[0])
			return kb / 1024
		}
	}
	return 0
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds(pid int) float64 {
	raw, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

func envInt(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	return def
}

func envFloat(b *testing.B, name string, def float64) float64 {
	if v := os.Getenv(name); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			b.Fatalf("%s=%q: want a positive number", name, v)
		}
		return f
	}
	return def
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("%s=%q: want a positive duration", name, v)
		}
		return d
	}
	return def
}
