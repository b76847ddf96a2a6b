// Command threadsync keeps downstream systems in step with provider inboxes:
// it polls every account in the accounts file and publishes ThreadCreated,
// MessageReceived and ReplyNeeded events to NATS JetStream. Run
// `threadsync help` for the commands and every setting.
package main

import (
	"context"
	"crypto/sha256"
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

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/embedded"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/hubspot"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/olx"
	"github.com/threadsync/threadsync/pollers/partizap"
	"github.com/threadsync/threadsync/pollers/selfcommunity"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// factories maps provider names to their pollers.
var factories = map[string]pollers.Factory{
	hubspot.Name:       hubspot.New,
	mirakl.Name:        mirakl.New,
	olx.Name:           olx.New,
	partizap.Name:      partizap.New,
	selfcommunity.Name: selfcommunity.New,
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
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
	if _, ok := lookupCommand(name); !ok {
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
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "threadsync %s: unexpected arguments %q (settings come from the environment; see threadsync %s --help)\n", name, rest, name)
		return 2
	}
	if name == "version" {
		fmt.Fprintln(stdout, "threadsync", version)
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := LoadConfig(ctx, nil)
	if err != nil {
		fmt.Fprintf(stderr, "threadsync: %v\n", err)
		return 1
	}
	log := cfg.Logger(stderr)
	switch name {
	case "check":
		accounts, err := LoadAccounts(cfg.AccountsFile, os.LookupEnv, cfg.PollInterval)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if _, err := newEngine(cfg, accounts, nil, nil, nil, log); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cfg.AccountsFile, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: %d accounts, configuration valid\n", cfg.AccountsFile, len(accounts))
		return 0
	case "tail":
		if err := tail(ctx, cfg, stdout, log); err != nil {
			log.Error("tail", "error", err)
			return 1
		}
		return 0
	}
	if err := run(ctx, cfg, log); err != nil {
		log.Error("threadsync stopped", "error", err)
		return 1
	}
	return 0
}

func newEngine(cfg *Config, accounts []pollers.Account, store pollers.Store, pub pollers.Publisher, mp metric.MeterProvider, log *slog.Logger) (*pollers.Engine, error) {
	if store == nil {
		// check builds the engine only to validate the accounts.
		store, pub = (*checkpoint.Store)(nil), (*events.Publisher)(nil)
	}
	return pollers.New(pollers.Config{
		Store: store, Publisher: pub, Providers: factories,
		SubjectPrefix: cfg.SubjectPrefix, PollInterval: cfg.PollInterval, Concurrency: cfg.Concurrency,
		HTTPTimeout: cfg.HTTPTimeout, LeaseTTL: cfg.LeaseTTL, SweepInterval: sweepInterval(cfg.SweepInterval),
		MaxBackoff: cfg.MaxBackoff, ShutdownTimeout: cfg.ShutdownTimeout, Logger: log, MeterProvider: mp,
	}, accounts)
}

// watchAccounts reads the accounts file again on every SIGHUP and, when it
// or a token file it names has changed, every cfg.AccountsReload; then it
// gives the engine the new list. Comparing the files themselves, token files
// included, catches a rotated secret and spares parsing a large unchanged
// file. A file with errors changes nothing; on SIGHUP its errors are always
// logged, on the timer once.
func watchAccounts(ctx context.Context, hup <-chan os.Signal, cfg *Config, engine *pollers.Engine, log *slog.Logger) {
	var tick <-chan time.Time
	if cfg.AccountsReload > 0 {
		t := time.NewTicker(cfg.AccountsReload)
		defer t.Stop()
		tick = t.C
	}
	// A zero fingerprint differs from any: the first tick reads the file.
	files := []string{cfg.AccountsFile}
	var seen [sha256.Size]byte
	for {
		asked := false
		select {
		case <-ctx.Done():
			return
		case <-hup:
			asked = true
		case <-tick:
			if fingerprint(files) == seen {
				continue
			}
		}
		accounts, src, err := loadAccounts(cfg.AccountsFile, os.LookupEnv, cfg.PollInterval)
		files, seen = src.files, src.sum
		if err == nil {
			var added, removed, changed int
			if added, removed, changed, err = engine.Update(accounts); err == nil {
				if asked || added+removed+changed > 0 {
					log.Info("accounts reloaded", "accounts", len(accounts), "added", added, "removed", removed, "changed", changed)
				}
				continue
			}
		}
		log.Error("accounts file not reloaded; the accounts in use carry on", "file", cfg.AccountsFile, "error", err)
	}
}

// sweepInterval maps the setting's 0 ("disabled") to the engine's negative.
func sweepInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	// SIGHUP reloads the accounts file; caught from the start, so one sent
	// early does not end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	accounts, err := LoadAccounts(cfg.AccountsFile, os.LookupEnv, cfg.PollInterval)
	if err != nil {
		return err
	}
	log.Info("threadsync starting", "version", version, "accounts", len(accounts), "config", cfg)

	natsURL := cfg.NATSURL
	if cfg.EmbeddedNATS {
		srv, err := embedded.Start(embedded.Options{Listen: cfg.EmbeddedNATSListen, StoreDir: cfg.DataDir})
		if err != nil {
			return err
		}
		defer srv.Shutdown()
		natsURL = srv.ClientURL()
		log.Info("embedded NATS JetStream server started", "client_url", natsURL, "store_dir", cfg.DataDir)
	}
	nc, err := connectNATS(ctx, natsURL, cfg, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	pub, err := events.NewPublisher(nc, events.PublisherConfig{MaxInFlight: cfg.MaxInFlight, Timeout: cfg.PublishTimeout})
	if err != nil {
		return err
	}
	warnings, err := events.EnsureStream(ctx, pub.JetStream(), events.StreamConfig{
		Name: cfg.Stream, SubjectPrefix: cfg.SubjectPrefix, Duplicates: cfg.DuplicateWindow,
	})
	if err != nil {
		return err
	}
	for _, w := range warnings {
		log.Warn("stream settings put events at risk", "problem", w)
	}

	ropts, err := redisOptions(cfg)
	if err != nil {
		return err
	}
	redis.SetLogger(redisLogger{log})
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	if err := waitRedis(ctx, rdb, log); err != nil {
		return err
	}
	store, err := checkpoint.New(rdb, cfg.KeyPrefix)
	if err != nil {
		return err
	}
	met, err := newMetrics()
	if err != nil {
		return err
	}
	defer met.shutdown()
	engine, err := newEngine(cfg, accounts, store, pub, met.provider, log)
	if err != nil {
		return err
	}
	if cfg.HTTPAddr != "" {
		if err := serveHealth(ctx, cfg.HTTPAddr, &health{nc: nc, rdb: rdb, engine: engine, metrics: met.handler}, log); err != nil {
			return fmt.Errorf("THREADSYNC_HTTP_ADDR: %w", err)
		}
	}
	go watchAccounts(ctx, hup, cfg, engine, log)
	log.Info("polling", "accounts", len(accounts), "stream", cfg.Stream, "subjects", cfg.SubjectPrefix+".>")
	if err := engine.Run(ctx); err != nil {
		return err
	}
	log.Info("stopped: every page in hand was committed")
	return nil
}
