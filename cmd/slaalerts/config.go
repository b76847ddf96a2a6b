package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/threadsync/threadsync/events"
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

// setting is one environment variable of Config.
type setting struct {
	Field, Env, Default, Desc string
}

func settings() []setting {
	t := reflect.TypeFor[Config]()
	out := make([]setting, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("env")
		if !ok {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		s := setting{Field: f.Name, Env: strings.TrimSpace(name), Desc: f.Tag.Get("desc")}
		if i := strings.Index(opts, "default="); i >= 0 {
			s.Default = opts[i+len("default="):]
		}
		out = append(out, s)
	}
	return out
}

// LoadConfig reads the configuration through l (the process environment
// when l is nil) and validates it.
func LoadConfig(ctx context.Context, l envconfig.Lookuper) (*Config, error) {
	if l == nil {
		l = envconfig.OsLookuper()
	}
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: l}); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var (
	streamRE        = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	subjectPrefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// Validate reports every setting slaalerts cannot run with, naming its
// variable. URLs are not echoed: they may carry credentials.
func (c *Config) Validate() error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{env}, args...)...))
	}
	if strings.TrimSpace(c.NATSURL) == "" {
		bad("NATS_URL", "is empty")
	}
	if !streamRE.MatchString(c.Stream) {
		bad("THREADSYNC_STREAM", "%q must match %s", c.Stream, streamRE)
	}
	if !subjectPrefixRE.MatchString(c.SubjectPrefix) {
		bad("THREADSYNC_SUBJECT_PREFIX", "%q must be one or more dot-separated tokens matching %s", c.SubjectPrefix, streamRE)
	}
	if err := validHTTPURL(c.AlertmanagerURL); err != nil {
		bad("SLAALERTS_ALERTMANAGER_URL", "%v", err)
	}
	if c.GeneratorURL != "" {
		if err := validHTTPURL(c.GeneratorURL); err != nil {
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
	if _, ok := parseLevel(c.LogLevel); !ok {
		bad("SLAALERTS_LOG_LEVEL", "%q must be debug, info, warn or error", c.LogLevel)
	}
	switch strings.ToLower(c.LogFormat) {
	case "text", "json":
	default:
		bad("SLAALERTS_LOG_FORMAT", "%q must be text or json", c.LogFormat)
	}
	return errors.Join(errs...)
}

func validHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q must be http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

func parseLevel(s string) (slog.Level, bool) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, false
	}
	return l, true
}

// Logger returns a logger writing to w at the configured level and format.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

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
	for _, s := range settings() {
		fmt.Fprintf(w, "  %s", s.Env)
		if s.Default != "" {
			fmt.Fprintf(w, " (default %s)", s.Default)
		}
		fmt.Fprintln(w)
		for _, line := range wrap(s.Desc, 72) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
}

// wrap splits s into lines of at most width bytes, breaking at spaces.
func wrap(s string, width int) []string {
	var lines []string
	var line strings.Builder
	for _, word := range strings.Fields(s) {
		if line.Len() > 0 && line.Len()+1+len(word) > width {
			lines = append(lines, line.String())
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(word)
	}
	if line.Len() > 0 {
		lines = append(lines, line.String())
	}
	return lines
}
