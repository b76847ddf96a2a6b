// Package envconf reads a program's configuration from environment
// variables declared once, in struct tags, so that loading, validation
// messages, help text and the logged configuration cannot drift apart.
//
// A field's `env` tag gives its variable and default (go-envconfig's
// syntax), `desc` its help text, and `redact` how it is shown when logged:
// "url" hides the password of each URL of a comma-separated list, "secret"
// shows only whether it is set.
package envconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// Setting is one environment variable of a configuration struct.
type Setting struct {
	Field   string // Go field name
	Env     string // variable name
	Default string
	Desc    string
	Redact  string // "url", "secret" or empty
}

// Settings lists T's variables in field order.
func Settings[T any]() []Setting {
	t := reflect.TypeFor[T]()
	out := make([]Setting, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("env")
		if !ok {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		s := Setting{Field: f.Name, Env: strings.TrimSpace(name), Desc: f.Tag.Get("desc"), Redact: f.Tag.Get("redact")}
		// go-envconfig takes everything after "default=" verbatim, commas included.
		if i := strings.Index(opts, "default="); i >= 0 {
			s.Default = opts[i+len("default="):]
		}
		out = append(out, s)
	}
	return out
}

// Load reads T's variables through l (the process environment when nil).
// It reports every malformed variable, each under its own name, not just
// the first; then, when *T has a Validate method, what it reports.
func Load[T any](ctx context.Context, l envconfig.Lookuper) (*T, error) {
	if l == nil {
		l = envconfig.OsLookuper()
	}
	var c T
	v := reflect.ValueOf(&c).Elem()
	var errs []error
	for _, s := range Settings[T]() {
		// Decoding one field at a time through a one-field struct lets
		// every bad variable be reported, under its variable name rather
		// than envconfig's Go field name.
		f, _ := v.Type().FieldByName(s.Field)
		one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: f.Name, Type: f.Type, Tag: f.Tag}}))
		if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: one.Interface(), Lookuper: l}); err != nil {
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			errs = append(errs, fmt.Errorf("%s: %w", s.Env, err))
			continue
		}
		v.FieldByIndex(f.Index).Set(one.Elem().Field(0))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if v, ok := any(&c).(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// LogValue lists every setting of c under its variable name, as its
// redact tag allows, so the effective configuration can be logged.
func LogValue[T any](c *T) slog.Value {
	v := reflect.ValueOf(c).Elem()
	ss := Settings[T]()
	attrs := make([]slog.Attr, 0, len(ss))
	for _, s := range ss {
		var a slog.Attr
		switch x := v.FieldByName(s.Field).Interface().(type) {
		case string:
			switch {
			case s.Redact == "url":
				x = RedactURLs(x)
			case s.Redact == "secret" && x != "":
				x = "[set]"
			}
			a = slog.String(s.Env, x)
		case time.Duration:
			a = slog.Duration(s.Env, x)
		default:
			a = slog.Any(s.Env, x)
		}
		attrs = append(attrs, a)
	}
	return slog.GroupValue(attrs...)
}

// RedactURLs hides the password of each URL of a comma-separated list (a
// URL without a scheme is read as nats://). An unparsable entry is hidden
// whole, as it might be a password.
func RedactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		s := p
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		switch {
		case err != nil:
			parts[i] = "<invalid URL>"
		case u.User != nil:
			if _, has := u.User.Password(); !has {
				// A user without a password is how nats:// carries a token.
				u.User = url.User("xxxxx")
			}
			parts[i] = u.Redacted()
		default:
			parts[i] = p
		}
	}
	return strings.Join(parts, ",")
}

// ParseURL is url.Parse without the URL in its error, which may hold a
// password.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("not a valid URL: %w", ue.Err)
		}
		return nil, errors.New("not a valid URL")
	}
	return u, nil
}

// ValidHTTPURL checks an http(s) URL with a host, without echoing it.
func ValidHTTPURL(s string) error {
	u, err := ParseURL(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q must be http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// ValidListen checks a host:port to listen on, without resolving it.
func ValidListen(hostport string) error {
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", hostport, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q must be a number from 0 to 65535", hostport, port)
	}
	return nil
}

var (
	streamRE        = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	subjectPrefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// ValidStream checks a JetStream stream name, which also names the
// stream's subjects in NATS's API.
func ValidStream(name string) error {
	if !streamRE.MatchString(name) {
		return fmt.Errorf("%q must match %s", name, streamRE)
	}
	return nil
}

// ValidSubjectPrefix checks the first subject tokens of the events.
func ValidSubjectPrefix(prefix string) error {
	if !subjectPrefixRE.MatchString(prefix) {
		return fmt.Errorf("%q must be one or more dot-separated tokens matching %s", prefix, streamRE)
	}
	return nil
}

// ValidNATSURLs checks a comma-separated server list as nats.go reads it: a
// URL without a scheme means nats://.
func ValidNATSURLs(list string) error {
	if strings.TrimSpace(list) == "" {
		return errors.New("is empty")
	}
	for i, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			return fmt.Errorf("server %d is empty", i+1)
		}
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := ParseURL(s)
		if err != nil {
			return fmt.Errorf("server %d: %w", i+1, err)
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("server %d: scheme %q must be nats, tls, ws or wss", i+1, u.Scheme)
		}
		if u.Host == "" {
			return fmt.Errorf("server %d has no host", i+1)
		}
	}
	return nil
}

// ValidRedisURL checks a redis://, rediss:// or unix:// URL.
func ValidRedisURL(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	u, err := ParseURL(s)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			return errors.New("has no host")
		}
	case "unix":
		if u.Path == "" {
			return errors.New("has no socket path")
		}
	default:
		return fmt.Errorf("scheme %q must be redis, rediss or unix", u.Scheme)
	}
	return nil
}

// Problems collects what is wrong with a configuration, each under its
// variable's name.
type Problems struct{ errs []error }

// Add records a problem of the variable env.
func (p *Problems) Add(env, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: "+format, append([]any{env}, args...)...))
}

// Logging checks a log level and format, read from the variables named.
func (p *Problems) Logging(levelEnv, level, formatEnv, format string) {
	if _, ok := ParseLevel(level); !ok {
		p.Add(levelEnv, "%q must be debug, info, warn or error", level)
	}
	switch strings.ToLower(format) {
	case "text", "json":
	default:
		p.Add(formatEnv, "%q must be text or json", format)
	}
}

// Err is every problem recorded, joined; nil when none.
func (p *Problems) Err() error { return errors.Join(p.errs...) }

// ParseLevel reads debug, info, warn or error, in any case.
func ParseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// Logger returns a logger writing to w at level, as text or json.
func Logger(w io.Writer, level, format string) *slog.Logger {
	l, _ := ParseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Usage writes the help of ss: each variable, its default and its
// description wrapped to 72 columns.
func Usage(w io.Writer, ss []Setting) {
	for _, s := range ss {
		fmt.Fprintf(w, "  %s", s.Env)
		if s.Default != "" {
			fmt.Fprintf(w, " (default %s)", s.Default)
		}
		fmt.Fprintln(w)
		for _, line := range Wrap(s.Desc, 72) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
}

// Wrap splits s into lines of at most width bytes, breaking at spaces.
func Wrap(s string, width int) []string {
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
