package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/sethvargo/go-envconfig"

	"github.com/threadsync/threadsync/internal/envconf"
)

// Config is the process configuration, read from the environment.
//
// Every field carries an `env` tag (variable name and default) and a `desc`
// tag; the help text is generated from them, so they are the one place a
// setting is documented. Fields tagged `redact:"url"` may hold credentials
// and are printed with their passwords hidden.
type Config struct {
	NATSURL            string        `env:"NATS_URL, default=nats://127.0.0.1:4222" redact:"url" desc:"NATS server URL(s), comma-separated; ignored when THREADSYNC_EMBEDDED_NATS is true"`
	EmbeddedNATS       bool          `env:"THREADSYNC_EMBEDDED_NATS, default=false" desc:"true: start an in-process JetStream server and use it instead of NATS_URL; its client URL is logged"`
	EmbeddedNATSListen string        `env:"THREADSYNC_EMBEDDED_NATS_LISTEN, default=127.0.0.1:4222" desc:"host:port the embedded NATS server listens on (port 0 picks a free one)"`
	DataDir            string        `env:"THREADSYNC_DATA_DIR, default=./data" desc:"storage directory of the embedded NATS server"`
	RedisURL           string        `env:"REDIS_URL, default=redis://127.0.0.1:6379/0" redact:"url" desc:"Redis URL (redis://, rediss:// or unix://) holding cursors, thread state and leases"`
	AccountsFile       string        `env:"THREADSYNC_ACCOUNTS, default=./accounts.yaml" desc:"the accounts file (YAML)"`
	Stream             string        `env:"THREADSYNC_STREAM, default=INBOX" desc:"JetStream stream; created if missing, with subjects <prefix>.>"`
	SubjectPrefix      string        `env:"THREADSYNC_SUBJECT_PREFIX, default=inbox" desc:"first subject token(s) of every event, e.g. inbox or acme.inbox"`
	KeyPrefix          string        `env:"THREADSYNC_KEY_PREFIX, default=threadsync" desc:"Redis key namespace, so several deployments or tests can share a Redis"`
	PollInterval       time.Duration `env:"THREADSYNC_POLL_INTERVAL, default=30s" desc:"poll interval of accounts that set no poll_interval"`
	DuplicateWindow    time.Duration `env:"THREADSYNC_DUPLICATE_WINDOW, default=2h" desc:"the stream's Duplicates window; must outlast any restart"`
	Concurrency        int           `env:"THREADSYNC_CONCURRENCY, default=64" desc:"accounts polled at once"`
	PublishTimeout     time.Duration `env:"THREADSYNC_PUBLISH_TIMEOUT, default=10s" desc:"wait for one publish's acknowledgement"`
	MaxInFlight        int           `env:"THREADSYNC_MAX_IN_FLIGHT, default=4096" desc:"unacknowledged publishes at once, across all accounts"`
	HTTPTimeout        time.Duration `env:"THREADSYNC_HTTP_TIMEOUT, default=30s" desc:"timeout of one attempt of a provider API request, its body included"`
	RetryAttempts      int           `env:"THREADSYNC_RETRY_ATTEMPTS, default=8" desc:"attempts of one provider request that meets a failure that may heal (429, 408, 5xx, timeout, reset, body cut short); 1 disables retries in place"`
	RetryMaxWait       time.Duration `env:"THREADSYNC_RETRY_MAX_WAIT, default=60s" desc:"longest wait a provider request sits out in place; a provider asking for longer pauses the account instead"`
	PageDeadline       time.Duration `env:"THREADSYNC_PAGE_DEADLINE, default=3m" desc:"time one page's provider requests may spend retrying"`
	ShutdownTimeout    time.Duration `env:"THREADSYNC_SHUTDOWN_TIMEOUT, default=30s" desc:"on SIGTERM, time allowed to finish the page in hand before stopping"`
	SLAGrace           time.Duration `env:"THREADSYNC_SLA_GRACE, default=1m" desc:"how long after a reply deadline a breach waits for a poll that can confirm it; when polls keep failing it is then published with confirmed: false"`
	LeaseTTL           time.Duration `env:"THREADSYNC_LEASE_TTL, default=60s" desc:"lifetime of an account's lease; another replica takes the account over after it lapses"`
	SweepInterval      time.Duration `env:"THREADSYNC_SWEEP_INTERVAL, default=24h" desc:"interval of the full reconciliation walk of incrementally listed accounts; 0 disables it"`
	AccountsReload     time.Duration `env:"THREADSYNC_ACCOUNTS_RELOAD, default=30s" desc:"how often the accounts file and its token files are read again to pick up changes; 0 disables it (SIGHUP still reloads)"`
	MaxBackoff         time.Duration `env:"THREADSYNC_MAX_BACKOFF, default=5m" desc:"longest wait between retries of a failing account"`
	FailingAfter       int           `env:"THREADSYNC_FAILING_AFTER, default=5" desc:"consecutive failed polls after which an account is failing and AccountFailing is published (refused credentials: at once); outages of Redis or NATS do not count"`
	AutoPauseAfter     time.Duration `env:"THREADSYNC_AUTO_PAUSE_AFTER, default=24h" desc:"an account whose credentials the provider has refused for this long is paused (AccountPaused); 0 never pauses"`
	OnStateLoss        string        `env:"THREADSYNC_ON_STATE_LOSS, default=resume" desc:"what an account with a sync mark but no state in Redis does: resume (record silently what is older than the mark, publish what is newer), full (publish everything again) or stop (pause it)"`
	LogLevel           string        `env:"THREADSYNC_LOG_LEVEL, default=info" desc:"log level: debug, info, warn or error"`
	LogFormat          string        `env:"THREADSYNC_LOG_FORMAT, default=text" desc:"log format: text or json"`
	HTTPAddr           string        `env:"THREADSYNC_HTTP_ADDR, default=:9090" desc:"host:port of the endpoints /healthz, /readyz, /status and /metrics (Prometheus); empty disables them"`
	Pprof              bool          `env:"THREADSYNC_PPROF, default=false" desc:"true: also serve Go's runtime profiles (CPU, heap, goroutines) under /debug/pprof/ on THREADSYNC_HTTP_ADDR"`
	NATSCreds          string        `env:"NATS_CREDS" desc:"NATS credentials file (user JWT and NKey seed)"`
	NATSNKey           string        `env:"NATS_NKEY" desc:"file holding the NKey seed to authenticate to NATS with"`
	NATSUser           string        `env:"NATS_USER" desc:"NATS user name (or put user:password in NATS_URL)"`
	NATSPassword       string        `env:"NATS_PASSWORD" redact:"secret" desc:"NATS password"`
	NATSTLSCA          string        `env:"NATS_TLS_CA" desc:"PEM file of the CA that signs the NATS server's certificate"`
	NATSTLSCert        string        `env:"NATS_TLS_CERT" desc:"PEM client certificate for NATS (with NATS_TLS_KEY)"`
	NATSTLSKey         string        `env:"NATS_TLS_KEY" desc:"PEM private key of NATS_TLS_CERT"`
	RedisUser          string        `env:"REDIS_USERNAME" desc:"Redis ACL user (or put it in REDIS_URL)"`
	RedisPassword      string        `env:"REDIS_PASSWORD" redact:"secret" desc:"Redis password (or put it in REDIS_URL)"`
	RedisTLSCA         string        `env:"REDIS_TLS_CA" desc:"PEM file of the CA that signs Redis' certificate (use a rediss:// URL)"`
	RedisTLSCert       string        `env:"REDIS_TLS_CERT" desc:"PEM client certificate for Redis (with REDIS_TLS_KEY)"`
	RedisTLSKey        string        `env:"REDIS_TLS_KEY" desc:"PEM private key of REDIS_TLS_CERT"`
}

// settings lists Config's variables in field order; help, error messages and
// LogValue all read it, so none of them can drift from the struct.
func settings() []envconf.Setting { return envconf.Settings[Config]() }

// LoadConfig reads the configuration through l (the process environment when
// l is nil) and validates it. It reports every malformed or invalid variable,
// each under its own name.
func LoadConfig(ctx context.Context, l envconfig.Lookuper) (*Config, error) {
	return envconf.Load[Config](ctx, l)
}

// Validate reports every setting threadsync cannot run with, naming its
// variable. URLs are never echoed, since they may carry credentials.
func (c *Config) Validate() error {
	var p envconf.Problems
	bad := p.Add

	if c.EmbeddedNATS {
		if err := envconf.ValidListen(c.EmbeddedNATSListen); err != nil {
			bad("THREADSYNC_EMBEDDED_NATS_LISTEN", "%v", err)
		}
		if c.DataDir == "" {
			bad("THREADSYNC_DATA_DIR", "is empty")
		}
	} else if err := envconf.ValidNATSURLs(c.NATSURL); err != nil {
		bad("NATS_URL", "%v", err)
	}
	if c.HTTPAddr != "" {
		if err := envconf.ValidListen(c.HTTPAddr); err != nil {
			bad("THREADSYNC_HTTP_ADDR", "%v", err)
		}
	}
	if (c.NATSTLSCert == "") != (c.NATSTLSKey == "") {
		bad("NATS_TLS_CERT", "and NATS_TLS_KEY must be set together")
	}
	if (c.RedisTLSCert == "") != (c.RedisTLSKey == "") {
		bad("REDIS_TLS_CERT", "and REDIS_TLS_KEY must be set together")
	}
	for env, path := range map[string]string{
		"NATS_CREDS": c.NATSCreds, "NATS_NKEY": c.NATSNKey, "NATS_TLS_CA": c.NATSTLSCA,
		"NATS_TLS_CERT": c.NATSTLSCert, "NATS_TLS_KEY": c.NATSTLSKey, "REDIS_TLS_CA": c.RedisTLSCA,
		"REDIS_TLS_CERT": c.RedisTLSCert, "REDIS_TLS_KEY": c.RedisTLSKey,
	} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			bad(env, "cannot read %q: %v", path, errors.Unwrap(err))
		}
	}
	if err := envconf.ValidRedisURL(c.RedisURL); err != nil {
		bad("REDIS_URL", "%v", err)
	}
	if c.AccountsFile == "" {
		bad("THREADSYNC_ACCOUNTS", "is empty")
	}
	if c.FailingAfter < 1 {
		bad("THREADSYNC_FAILING_AFTER", "%d must be at least 1", c.FailingAfter)
	}
	if c.AutoPauseAfter < 0 {
		bad("THREADSYNC_AUTO_PAUSE_AFTER", "%s must not be negative", c.AutoPauseAfter)
	}
	switch c.OnStateLoss {
	case "resume", "full", "stop":
	default:
		bad("THREADSYNC_ON_STATE_LOSS", "%q must be resume, full or stop", c.OnStateLoss)
	}
	if err := envconf.ValidStream(c.Stream); err != nil {
		bad("THREADSYNC_STREAM", "%v", err)
	}
	if err := envconf.ValidSubjectPrefix(c.SubjectPrefix); err != nil {
		bad("THREADSYNC_SUBJECT_PREFIX", "%v", err)
	}
	switch {
	case c.KeyPrefix == "":
		bad("THREADSYNC_KEY_PREFIX", "is empty")
	case strings.ContainsAny(c.KeyPrefix, "{}"):
		// Braces would start a Redis Cluster hash tag and split an
		// account's keys across slots.
		bad("THREADSYNC_KEY_PREFIX", "%q must not contain { or }", c.KeyPrefix)
	case strings.ContainsFunc(c.KeyPrefix, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		bad("THREADSYNC_KEY_PREFIX", "%q must not contain whitespace", c.KeyPrefix)
	}

	for _, d := range []struct {
		env string
		v   time.Duration
	}{
		{"THREADSYNC_POLL_INTERVAL", c.PollInterval},
		{"THREADSYNC_DUPLICATE_WINDOW", c.DuplicateWindow},
		{"THREADSYNC_PUBLISH_TIMEOUT", c.PublishTimeout},
		{"THREADSYNC_HTTP_TIMEOUT", c.HTTPTimeout},
		{"THREADSYNC_SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
		{"THREADSYNC_LEASE_TTL", c.LeaseTTL},
		{"THREADSYNC_MAX_BACKOFF", c.MaxBackoff},
		{"THREADSYNC_RETRY_MAX_WAIT", c.RetryMaxWait},
		{"THREADSYNC_PAGE_DEADLINE", c.PageDeadline},
		{"THREADSYNC_SLA_GRACE", c.SLAGrace},
	} {
		if d.v <= 0 {
			bad(d.env, "%s must be positive", d.v)
		}
	}
	if c.SweepInterval < 0 {
		bad("THREADSYNC_SWEEP_INTERVAL", "%s is negative (0 disables sweeps)", c.SweepInterval)
	}
	if c.AccountsReload < 0 {
		bad("THREADSYNC_ACCOUNTS_RELOAD", "%s is negative (0 disables it)", c.AccountsReload)
	}
	if c.RetryAttempts < 1 {
		bad("THREADSYNC_RETRY_ATTEMPTS", "%d must be at least 1 (1 disables retries in place)", c.RetryAttempts)
	}
	if c.Concurrency <= 0 {
		bad("THREADSYNC_CONCURRENCY", "%d must be positive", c.Concurrency)
	}
	if c.MaxInFlight <= 0 {
		bad("THREADSYNC_MAX_IN_FLIGHT", "%d must be positive", c.MaxInFlight)
	}
	p.Logging("THREADSYNC_LOG_LEVEL", c.LogLevel, "THREADSYNC_LOG_FORMAT", c.LogFormat)
	return p.Err()
}

// Logger returns a logger writing to w at the configured level and format.
func (c *Config) Logger(w io.Writer) *slog.Logger { return envconf.Logger(w, c.LogLevel, c.LogFormat) }

// LogValue lists every setting under its variable name, with the passwords
// of URLs hidden, so the effective configuration can be logged or printed.
func (c *Config) LogValue() slog.Value { return envconf.LogValue(c) }
