// Command threadsync keeps downstream systems in step with provider inboxes:
// it polls every account in the accounts file and publishes ThreadCreated,
// MessageReceived and ReplyNeeded events to NATS JetStream. Run
// `threadsync help` for the commands and every setting.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	// Accounts name IANA zones (the timezone option); hosts and images
	// without a zoneinfo database must still know them.
	_ "time/tzdata"

	"github.com/nats-io/nats-server/v2/server"
	"go.opentelemetry.io/otel/metric"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/embedded"
	"github.com/threadsync/threadsync/internal/accountsfile"
	"github.com/threadsync/threadsync/internal/connect"
	"github.com/threadsync/threadsync/internal/observe"
	"github.com/threadsync/threadsync/internal/ops"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/providers"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// Signals are caught before anything else is done (reading the
	// settings, starting an embedded NATS server, reaching NATS or Redis),
	// so that one sent while threadsync starts is a clean exit, never the
	// default death by signal. Only the Go runtime's and the packages'
	// initialisation come earlier, and nothing in a Go program can catch a
	// signal sent during those.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// SIGHUP is caught from the start too: for run it means "reload the
	// accounts file", which must not kill a worker still starting.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := realMain(ctx, hup, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errStartupStopped is returned by a command asked to stop (SIGINT,
// SIGTERM) before its start-up was done.
var errStartupStopped = errors.New("stopped during start-up")

// realMain runs the command args name until it ends or ctx is cancelled (by
// SIGINT or SIGTERM); hup receives SIGHUP. It returns the exit status.
func realMain(ctx context.Context, hup <-chan os.Signal, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr, "")
		return 2
	}
	name, rest := args[0], args[1:]
	if isHelpFlag(name) || name == "help" {
		topic := ""
		if name == "help" && len(rest) > 0 {
			topic = rest[0]
		}
		usage(stdout, topic)
		return 0
	}
	cmd, ok := lookupCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "threadsync: unknown command %q\n\n", name)
		usage(stderr, "")
		return 2
	}
	for _, a := range rest {
		if isHelpFlag(a) {
			usage(stdout, name)
			return 0
		}
	}
	of, err := ops.Parse(name, rest, cmd.ops, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if name == "version" {
		fmt.Fprintln(stdout, "threadsync", version)
		return 0
	}

	if name != "run" {
		// Only run reloads on SIGHUP; to the other commands it keeps its
		// usual meaning (the terminal is gone) and stops them, cleanly.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-hup:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	cfg, err := LoadConfig(ctx, nil)
	if err != nil {
		fmt.Fprintf(stderr, "threadsync: %v\n", err)
		return 1
	}
	log := cfg.Logger(stderr)
	// stopped reports a command that a signal stopped before its start-up
	// was done: a clean exit, like a stop at any later moment.
	stopped := func() int {
		log.Info("stopped during start-up", "command", name)
		return 0
	}
	if cmd.ops {
		return runOps(ctx, name, of, cfg, os.Stdin, stdout, stderr, log)
	}
	switch name {
	case "check":
		// check takes no time worth interrupting and its exit status is its
		// answer, so it runs to the end even when asked to stop.
		accounts, err := accountsfile.Load(cfg.AccountsFile, os.LookupEnv, cfg.PollInterval)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := pollers.Check(engineConfig(cfg, log), accounts); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cfg.AccountsFile, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: %d accounts, configuration valid\n", cfg.AccountsFile, len(accounts))
		return 0
	case "tail":
		err := tail(ctx, cfg, stdout, log)
		if errors.Is(err, errStartupStopped) {
			return stopped()
		}
		if err != nil {
			log.Error("tail", "error", err)
			return 1
		}
		return 0
	}
	err = run(ctx, hup, cfg, log)
	if errors.Is(err, errStartupStopped) {
		return stopped()
	}
	if err != nil {
		log.Error("threadsync stopped", "error", err)
		return 1
	}
	return 0
}

// startupErr is what a start-up step's err means: errStartupStopped once
// ctx is cancelled (the step most likely failed for that reason, and the
// process is stopping anyway), otherwise err itself.
func startupErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return errStartupStopped
	}
	return err
}

func newEngine(cfg *Config, accounts []pollers.Account, store pollers.Store, pub pollers.Publisher, marks pollers.Marks, mp metric.MeterProvider, log *slog.Logger) (*pollers.Engine, error) {
	c := engineConfig(cfg, log)
	c.Store, c.Publisher, c.Marks, c.MeterProvider = store, pub, marks, mp
	// The checkpoint store also keeps the quotas accounts share.
	c.Quotas, _ = store.(pollers.Quotas)
	return pollers.New(c, accounts)
}

// engineConfig is the engine's configuration from the process's.
func engineConfig(cfg *Config, log *slog.Logger) pollers.Config {
	return pollers.Config{
		Providers:     providers.Factories(),
		SubjectPrefix: cfg.SubjectPrefix, PollInterval: cfg.PollInterval, Concurrency: cfg.Concurrency,
		HTTPTimeout: cfg.HTTPTimeout, LeaseTTL: cfg.LeaseTTL, SweepInterval: off(cfg.SweepInterval),
		Retry:      pollers.RetryPolicy{Attempts: cfg.RetryAttempts, MaxInPlace: cfg.RetryMaxWait, PageDeadline: cfg.PageDeadline},
		MaxBackoff: cfg.MaxBackoff, ShutdownTimeout: cfg.ShutdownTimeout, SLAGrace: cfg.SLAGrace, DuplicateWindow: cfg.DuplicateWindow, Logger: log,
		FailingAfter: cfg.FailingAfter, AutoPauseAfter: off(cfg.AutoPauseAfter), OnStateLoss: pollers.StateLoss(cfg.OnStateLoss),
	}
}

// off maps a setting's 0 ("never", "disabled") to the engine's negative.
func off(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// run polls every account until ctx is cancelled. Every step of its
// start-up gives way to a cancelled ctx with errStartupStopped.
func run(ctx context.Context, hup <-chan os.Signal, cfg *Config, log *slog.Logger) error {
	accounts, err := accountsfile.Load(cfg.AccountsFile, os.LookupEnv, cfg.PollInterval)
	if err != nil {
		return err
	}
	log.Info("threadsync starting", "version", version, "accounts", len(accounts), "config", cfg)

	natsURL := cfg.NATSURL
	if cfg.EmbeddedNATS {
		// Recovering a large store can take a while; a stop does not wait.
		srv, err := connect.Await(ctx, func() (*server.Server, error) {
			return embedded.Start(embedded.Options{Listen: cfg.EmbeddedNATSListen, StoreDir: cfg.DataDir})
		}, (*server.Server).Shutdown)
		if err != nil {
			return startupErr(ctx, err)
		}
		defer srv.Shutdown()
		natsURL = srv.ClientURL()
		log.Info("embedded NATS JetStream server started", "client_url", natsURL, "store_dir", cfg.DataDir)
	}
	nc, pub, warnings, err := openStream(ctx, natsURL, cfg, log)
	if err != nil {
		return startupErr(ctx, err)
	}
	defer nc.Close()
	for _, w := range warnings {
		log.Warn("stream settings put events at risk", "problem", w)
	}
	marks, err := events.OpenMarks(ctx, pub.JetStream(), cfg.Stream, 1)
	if err != nil {
		return startupErr(ctx, err)
	}
	rdb, store, err := openStore(ctx, cfg, log)
	if err != nil {
		return startupErr(ctx, err)
	}
	defer rdb.Close()
	tel, err := observe.Setup(ctx, "threadsync", version)
	if err != nil {
		return err
	}
	defer func() {
		if err := tel.Shutdown(); err != nil {
			log.Warn("telemetry shutdown", "error", err)
		}
	}()
	engine, err := newEngine(cfg, accounts, store, pub, marks, tel.Meters, log)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errStartupStopped
	}
	if cfg.HTTPAddr != "" {
		if err := serveHealth(ctx, cfg.HTTPAddr, &health{nc: nc, rdb: rdb, engine: engine, metrics: tel.Handler, pprof: cfg.Pprof}, log); err != nil {
			return fmt.Errorf("THREADSYNC_HTTP_ADDR: %w", err)
		}
	}
	// The accounts file is read again on SIGHUP and every AccountsReload.
	go accountsfile.Watch(ctx, hup, cfg.AccountsFile, cfg.AccountsReload, cfg.PollInterval, engine, log)
	log.Info("polling", "accounts", len(accounts), "stream", cfg.Stream, "subjects", cfg.SubjectPrefix+".>")
	if err := engine.Run(ctx); err != nil {
		return err
	}
	log.Info("stopped: every page in hand was committed")
	return nil
}
