package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/internal/envconf"
)

// Config is the process configuration, read from the environment. Every
// field's `env` tag gives its variable and default and its `desc` tag the
// help text, so --help cannot drift from what is read.
type Config struct {
	NATSURL         string        `env:"NATS_URL, default=nats://127.0.0.1:4222" desc:"NATS server URL(s), comma-separated; credentials may go in the URL"`
	Stream          string        `env:"THREADSYNC_STREAM, default=INBOX" desc:"the JetStream stream threadsync publishes to"`
	SubjectPrefix   string        `env:"THREADSYNC_SUBJECT_PREFIX, default=inbox" desc:"first subject token(s) of threadsync's events"`
	AlertmanagerURL string        `env:"SLAALERTS_ALERTMANAGER_URL, default=http://127.0.0.1:9093" desc:"base URL of the Alertmanager that receives the alerts (its v2 API is under /api/v2)"`
	Durable         string        `env:"SLAALERTS_DURABLE, default=slaalerts" desc:"name of the durable JetStream consumer; run one slaalerts per name (each keeps the episodes it has seen in memory, so two sharing a consumer would each miss the other's events)"`
	Resend          time.Duration `env:"SLAALERTS_RESEND, default=1m" desc:"interval at which active alerts are posted again; each post keeps an alert active for 4 intervals"`
	ForgetAfter     time.Duration `env:"SLAALERTS_FORGET_AFTER, default=168h" desc:"resolved episodes are forgotten this long after their resolution; a warning or breach of an unknown episode older than this is taken for a replay and ignored"`
	GeneratorURL    string        `env:"SLAALERTS_GENERATOR_URL" desc:"optional link put in every alert's generatorURL (a dashboard, a runbook)"`
	LogLevel        string        `env:"SLAALERTS_LOG_LEVEL, default=info" desc:"log level: debug, info, warn or error"`
	LogFormat       string        `env:"SLAALERTS_LOG_FORMAT, default=text" desc:"log format: text or json"`
}

func settings() []envconf.Setting { return envconf.Settings[Config]() }

// LoadConfig reads the configuration through l (the process environment
// when l is nil) and validates it.
func LoadConfig(ctx context.Context, l envconfig.Lookuper) (*Config, error) {
	return envconf.Load[Config](ctx, l)
}

// Validate reports every setting slaalerts cannot run with, naming its
// variable. URLs are not echoed: they may carry credentials.
func (c *Config) Validate() error {
	var p envconf.Problems
	bad := p.Add
	if err := envconf.ValidNATSURLs(c.NATSURL); err != nil {
		bad("NATS_URL", "%v", err)
	}
	if err := envconf.ValidStream(c.Stream); err != nil {
		bad("THREADSYNC_STREAM", "%v", err)
	}
	if err := envconf.ValidSubjectPrefix(c.SubjectPrefix); err != nil {
		bad("THREADSYNC_SUBJECT_PREFIX", "%v", err)
	}
	if err := envconf.ValidHTTPURL(c.AlertmanagerURL); err != nil {
		bad("SLAALERTS_ALERTMANAGER_URL", "%v", err)
	}
	if c.GeneratorURL != "" {
		if err := envconf.ValidHTTPURL(c.GeneratorURL); err != nil {
			bad("SLAALERTS_GENERATOR_URL", "%v", err)
		}
	}
	if err := events.ValidToken("durable", c.Durable); err != nil {
		bad("SLAALERTS_DURABLE", "%v", err)
	}
	if c.Resend <= 0 {
		bad("SLAALERTS_RESEND", "%s must be positive", c.Resend)
	}
	if c.ForgetAfter <= 0 {
		bad("SLAALERTS_FORGET_AFTER", "%s must be positive", c.ForgetAfter)
	}
	p.Logging("SLAALERTS_LOG_LEVEL", c.LogLevel, "SLAALERTS_LOG_FORMAT", c.LogFormat)
	return p.Err()
}

// Logger returns a logger writing to w at the configured level and format.
func (c *Config) Logger(w io.Writer) *slog.Logger { return envconf.Logger(w, c.LogLevel, c.LogFormat) }

// usage writes the help text, its environment section generated from Config.
func usage(w io.Writer) {
	fmt.Fprint(w, `slaalerts turns threadsync's reply SLA events into Alertmanager alerts.

It reads <prefix>.*.*.reply.* from the stream through a durable consumer:
ReplySLAWarning fires a warning alert, ReplySLABreached a critical one, and
ReplyResolved resolves both. Active alerts are posted again every
SLAALERTS_RESEND; on start the active set is rebuilt from the stream.

Usage:
  slaalerts            run until SIGINT or SIGTERM
  slaalerts --help     show this help

Environment:
`)
	envconf.Usage(w, settings())
}
