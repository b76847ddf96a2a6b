// Command providersim serves threadsync's provider simulators over HTTP with
// live traffic, for demos, benchmarks and end-to-end runs of the worker.
// Each provider is mounted under its own prefix (the Mirakl API at
// http://<listen>/mirakl, its admin API at /_admin/mirakl/); GET /healthz
// answers once they are ready. -accounts-out writes a threadsync accounts
// file, keys included, which the log never shows. -throttle-every N answers
// every Nth request of each account 429 with Retry-After: 1, and
// -slow-every N holds it back for -slow, until the admin API's schedule
// replaces them. PUT /_admin/traffic {"rate": 0.5} sets the live messages a
// second per account (-rate at start; 0 stops them).
//
//	providersim -listen 127.0.0.1:8089 -accounts-out accounts.yaml
//	providersim -throttle-every 5 -slow-every 7 -slow 3s
//	THREADSYNC_ACCOUNTS=accounts.yaml threadsync ...
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		slog.Error("providersim failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx is done; ready gets the address once the server accepts requests.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("providersim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8089", "address to serve on (port 0 picks a free one)")
	seedThreads := fs.Int("seed-threads", 20, "threads seeded per account, 4 messages each")
	rate := fs.Float64("rate", 0.5, "live messages per second per account (0: no live traffic)")
	rps := fs.Float64("rps", 0, "rate limit per API key in requests per second (0: unlimited)")
	accountsOut := fs.String("accounts-out", "", "write a threadsync accounts file for the simulated accounts to this path")
	throttleEvery := fs.Int("throttle-every", 0, "answer every Nth request of each account 429 with Retry-After: 1, in the provider's format (0: never)")
	slowEvery := fs.Int("slow-every", 0, "hold every Nth request of each account back for -slow (0: never)")
	slow := fs.Duration("slow", 3*time.Second, "how long -slow-every holds a request back")
	counts := make([]*int, len(simulators))
	builds := make([]func(rps float64) (sim.Simulator, error), len(simulators))
	for i, p := range simulators {
		counts[i] = fs.Int(p.Sim.Serve.Count, p.Sim.Serve.N, p.Sim.Serve.Help)
		builds[i] = p.Sim.Define(fs)
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return cmp.Or(err, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	names := []string{"seed-threads", "rate", "rps", "throttle-every", "slow-every"}
	for i, v := range []float64{float64(*seedThreads), *rate, *rps, float64(*throttleEvery), float64(*slowEvery)} {
		if v < 0 {
			return errors.New("-" + names[i] + " must not be negative")
		}
	}
	if *slowEvery > 0 && *slow <= 0 {
		return errors.New("-slow must be positive with -slow-every")
	}
	schedule := scheduleFlags(*throttleEvery, *slowEvery, *slow)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	base := "http://" + advertised(ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	var accounts []account
	live := &liveTraffic{parent: ctx, log: log}
	for i, p := range simulators {
		prefix := "/" + p.Client.Name
		m, err := setup(p, builds[i], *counts[i], options{baseURL: base + prefix, seedThreads: *seedThreads, rps: *rps, schedule: schedule})
		if err != nil {
			return fmt.Errorf("%s simulator: %w", p.Client.Name, err)
		}
		if len(m.accounts) == 0 {
			continue
		}
		mux.Handle(prefix+"/", http.StripPrefix(prefix, m.sim))
		mux.Handle("/_admin"+prefix+"/", http.StripPrefix("/_admin"+prefix, adminHandler(m.sim, p.Sim.Serve)))
		accounts = append(accounts, m.accounts...)
		live.runs = append(live.runs, m.traffic...)
		log.Info("serving simulator", "provider", p.Client.Name, "base_url", base+prefix,
			"accounts", sim.Map(m.accounts, func(a account) string { return a.id }), "seed_threads", *seedThreads, "rate_per_account", *rate, "rps_limit", *rps,
			"throttle_every", *throttleEvery, "slow_every", *slowEvery)
	}
	if *accountsOut != "" {
		if err := writeAccounts(*accountsOut, accounts); err != nil {
			return err
		}
		log.Info("wrote accounts file", "path", *accountsOut, "accounts", len(accounts))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	mux.Handle("/_admin/traffic", live.handler())
	live.set(*rate)
	defer live.stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "healthz", base+"/healthz")
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info("shutting down")
		live.stop()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err = srv.Shutdown(shutdownCtx); err != nil {
			err = fmt.Errorf("shutdown: %w", err)
		}
	}
	return err
}

// scheduleFlags turns -throttle-every and -slow-every into rules; a request both pick gets both.
func scheduleFlags(throttleEvery, slowEvery int, slow time.Duration) []sim.Rule {
	throttle := sim.Rule{Every: throttleEvery, Status: http.StatusTooManyRequests, RetryAfter: "1"}
	held := sim.Rule{Every: slowEvery, Delay: slow}
	switch {
	case throttleEvery > 0 && slowEvery > 0:
		rules := []sim.Rule{throttle, held}
		// Both pick every lcm-th, unless the lcm is too large to reach.
		if g := gcd(throttleEvery, slowEvery); throttleEvery/g <= math.MaxInt/slowEvery {
			both := throttle
			both.Every, both.Delay = throttleEvery/g*slowEvery, slow
			rules = append([]sim.Rule{both}, rules...)
		}
		return rules
	case throttleEvery > 0:
		return []sim.Rule{throttle}
	case slowEvery > 0:
		return []sim.Rule{held}
	}
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// advertised is the host:port clients use: loopback for a wildcard.
func advertised(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
