package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(t.Context(), envconfig.MapLookuper(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		// The contract (ARCHITECTURE.md, "Process configuration").
		NATSURL:       "nats://127.0.0.1:4222",
		EmbeddedNATS:  false,
		DataDir:       "./data",
		RedisURL:      "redis://127.0.0.1:6379/0",
		AccountsFile:  "./accounts.yaml",
		Stream:        "INBOX",
		SubjectPrefix: "inbox",
		KeyPrefix:     "threadsync",
		PollInterval:  30 * time.Second,
		// threadsync's own.
		FailingAfter:       5,
		AutoPauseAfter:     24 * time.Hour,
		OnStateLoss:        "resume",
		EmbeddedNATSListen: "127.0.0.1:4222",
		DuplicateWindow:    2 * time.Hour,
		Concurrency:        64,
		PublishTimeout:     10 * time.Second,
		MaxInFlight:        4096,
		HTTPTimeout:        30 * time.Second,
		RetryAttempts:      8,
		RetryMaxWait:       time.Minute,
		PageDeadline:       3 * time.Minute,
		ShutdownTimeout:    30 * time.Second,
		SLAGrace:           time.Minute,
		LeaseTTL:           60 * time.Second,
		SweepInterval:      24 * time.Hour,
		AccountsReload:     30 * time.Second,
		MaxBackoff:         5 * time.Minute,
		LogLevel:           "info",
		LogFormat:          "text",
		HTTPAddr:           ":9090",
	}
	if *c != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", *c, want)
	}
}

// TestContractVariables pins the names and defaults other programs rely on,
// as the tags spell them (which is also what help prints).
func TestContractVariables(t *testing.T) {
	t.Parallel()
	contract := map[string]string{
		"NATS_URL":                  "nats://127.0.0.1:4222",
		"THREADSYNC_EMBEDDED_NATS":  "false",
		"THREADSYNC_DATA_DIR":       "./data",
		"REDIS_URL":                 "redis://127.0.0.1:6379/0",
		"THREADSYNC_ACCOUNTS":       "./accounts.yaml",
		"THREADSYNC_STREAM":         "INBOX",
		"THREADSYNC_SUBJECT_PREFIX": "inbox",
		"THREADSYNC_KEY_PREFIX":     "threadsync",
		"THREADSYNC_POLL_INTERVAL":  "30s",
	}
	got := make(map[string]string)
	for _, s := range settings() {
		got[s.Env] = s.Default
	}
	for name, def := range contract {
		if d, ok := got[name]; !ok {
			t.Errorf("%s is not a setting", name)
		} else if d != def {
			t.Errorf("%s defaults to %q, want %q", name, d, def)
		}
	}
}

func TestConfigTags(t *testing.T) {
	t.Parallel()
	ss := settings()
	if n, want := len(ss), reflect.TypeFor[Config]().NumField(); n != want {
		t.Errorf("%d settings, want one per Config field (%d)", n, want)
	}
	seen := make(map[string]bool)
	for _, s := range ss {
		// Credentials and TLS files have no default: empty means unused.
		if s.Env == "" || s.Desc == "" {
			t.Errorf("field %s: env %q, desc %q: both must be set", s.Field, s.Env, s.Desc)
		}
		if seen[s.Env] {
			t.Errorf("%s is used twice", s.Env)
		}
		seen[s.Env] = true
	}
}

func TestLoadConfigOverrides(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		check func(*Config) bool
	}{
		{"embedded", map[string]string{"THREADSYNC_EMBEDDED_NATS": "true", "THREADSYNC_EMBEDDED_NATS_LISTEN": "127.0.0.1:0"},
			func(c *Config) bool { return c.EmbeddedNATS && c.EmbeddedNATSListen == "127.0.0.1:0" }},
		{"embedded ignores NATS_URL", map[string]string{"THREADSYNC_EMBEDDED_NATS": "1", "NATS_URL": "http://nope"},
			func(c *Config) bool { return c.EmbeddedNATS }},
		{"nats list", map[string]string{"NATS_URL": "nats://a:4222, tls://b:4222,localhost:4222"},
			func(c *Config) bool { return c.NATSURL == "nats://a:4222, tls://b:4222,localhost:4222" }},
		{"rediss", map[string]string{"REDIS_URL": "rediss://:pw@redis.internal:6380/2"},
			func(c *Config) bool { return c.RedisURL == "rediss://:pw@redis.internal:6380/2" }},
		{"redis socket", map[string]string{"REDIS_URL": "unix:///run/redis.sock"},
			func(c *Config) bool { return c.RedisURL == "unix:///run/redis.sock" }},
		{"multi-token prefix", map[string]string{"THREADSYNC_SUBJECT_PREFIX": "acme.inbox_v2"},
			func(c *Config) bool { return c.SubjectPrefix == "acme.inbox_v2" }},
		{"key prefix with colon", map[string]string{"THREADSYNC_KEY_PREFIX": "acme:threadsync"},
			func(c *Config) bool { return c.KeyPrefix == "acme:threadsync" }},
		{"durations", map[string]string{"THREADSYNC_POLL_INTERVAL": "1m30s", "THREADSYNC_SWEEP_INTERVAL": "0"},
			func(c *Config) bool { return c.PollInterval == 90*time.Second && c.SweepInterval == 0 }},
		{"numbers", map[string]string{"THREADSYNC_CONCURRENCY": "8", "THREADSYNC_MAX_IN_FLIGHT": "100"},
			func(c *Config) bool { return c.Concurrency == 8 && c.MaxInFlight == 100 }},
		{"log", map[string]string{"THREADSYNC_LOG_LEVEL": "DEBUG", "THREADSYNC_LOG_FORMAT": "json"},
			func(c *Config) bool { return c.LogLevel == "DEBUG" && c.LogFormat == "json" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadConfig(t.Context(), envconfig.MapLookuper(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("got %+v", *c)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{"bad bool", map[string]string{"THREADSYNC_EMBEDDED_NATS": "maybe"}, []string{"THREADSYNC_EMBEDDED_NATS: "}},
		{"bad duration", map[string]string{"THREADSYNC_POLL_INTERVAL": "abc"}, []string{`THREADSYNC_POLL_INTERVAL: time: invalid duration "abc"`}},
		{"bad int", map[string]string{"THREADSYNC_CONCURRENCY": "many"}, []string{"THREADSYNC_CONCURRENCY: "}},
		{"every decode error", map[string]string{"THREADSYNC_LEASE_TTL": "x", "THREADSYNC_MAX_IN_FLIGHT": "y"},
			[]string{"THREADSYNC_LEASE_TTL: ", "THREADSYNC_MAX_IN_FLIGHT: "}},
		{"zero duration", map[string]string{"THREADSYNC_PUBLISH_TIMEOUT": "0s"}, []string{"THREADSYNC_PUBLISH_TIMEOUT: 0s must be positive"}},
		{"negative duration", map[string]string{"THREADSYNC_MAX_BACKOFF": "-1s"}, []string{"THREADSYNC_MAX_BACKOFF: -1s must be positive"}},
		{"negative sweep", map[string]string{"THREADSYNC_SWEEP_INTERVAL": "-1h"}, []string{"THREADSYNC_SWEEP_INTERVAL: "}},
		{"negative reload", map[string]string{"THREADSYNC_ACCOUNTS_RELOAD": "-1s"}, []string{"THREADSYNC_ACCOUNTS_RELOAD: "}},
		{"every validation error", map[string]string{"THREADSYNC_HTTP_TIMEOUT": "0s", "THREADSYNC_LEASE_TTL": "0s", "THREADSYNC_DUPLICATE_WINDOW": "0s", "THREADSYNC_SHUTDOWN_TIMEOUT": "0s"},
			[]string{"THREADSYNC_HTTP_TIMEOUT: ", "THREADSYNC_LEASE_TTL: ", "THREADSYNC_DUPLICATE_WINDOW: ", "THREADSYNC_SHUTDOWN_TIMEOUT: "}},
		{"zero concurrency", map[string]string{"THREADSYNC_CONCURRENCY": "0"}, []string{"THREADSYNC_CONCURRENCY: "}},
		{"zero in flight", map[string]string{"THREADSYNC_MAX_IN_FLIGHT": "-5"}, []string{"THREADSYNC_MAX_IN_FLIGHT: "}},
		{"log level", map[string]string{"THREADSYNC_LOG_LEVEL": "verbose"}, []string{"THREADSYNC_LOG_LEVEL: "}},
		{"log format", map[string]string{"THREADSYNC_LOG_FORMAT": "yaml"}, []string{"THREADSYNC_LOG_FORMAT: "}},
		{"empty accounts path", map[string]string{"THREADSYNC_ACCOUNTS": ""}, []string{"THREADSYNC_ACCOUNTS: "}},
		{"nats scheme", map[string]string{"NATS_URL": "http://localhost:4222"}, []string{"NATS_URL: server 1: "}},
		{"nats empty entry", map[string]string{"NATS_URL": "nats://a:4222,,nats://b:4222"}, []string{"NATS_URL: server 2 "}},
		{"nats empty", map[string]string{"NATS_URL": " "}, []string{"NATS_URL: "}},
		{"redis without scheme", map[string]string{"REDIS_URL": "localhost:6379"}, []string{"REDIS_URL: "}},
		{"redis scheme", map[string]string{"REDIS_URL": "http://localhost:6379"}, []string{"REDIS_URL: "}},
		{"embedded listen", map[string]string{"THREADSYNC_EMBEDDED_NATS": "true", "THREADSYNC_EMBEDDED_NATS_LISTEN": "4222"}, []string{"THREADSYNC_EMBEDDED_NATS_LISTEN: "}},
		{"embedded port", map[string]string{"THREADSYNC_EMBEDDED_NATS": "true", "THREADSYNC_EMBEDDED_NATS_LISTEN": ":99999"}, []string{"THREADSYNC_EMBEDDED_NATS_LISTEN: "}},
		{"embedded data dir", map[string]string{"THREADSYNC_EMBEDDED_NATS": "true", "THREADSYNC_DATA_DIR": ""}, []string{"THREADSYNC_DATA_DIR: "}},
	}
	// Names that must not reach subjects, stream names or keys unchecked.
	for _, v := range []string{"", "a.b", "a b", "*", ">", "a*", "in>", "IN\tBOX", "a/b"} {
		tests = append(tests, struct {
			name string
			env  map[string]string
			want []string
		}{"stream " + v, map[string]string{"THREADSYNC_STREAM": v}, []string{"THREADSYNC_STREAM: "}})
	}
	for _, v := range []string{"", ".", "a.", ".a", "a..b", "a.*", "a.>", ">", "a b", "a:b", "in{box}"} {
		tests = append(tests, struct {
			name string
			env  map[string]string
			want []string
		}{"subject prefix " + v, map[string]string{"THREADSYNC_SUBJECT_PREFIX": v}, []string{"THREADSYNC_SUBJECT_PREFIX: "}})
	}
	for _, v := range []string{"", "{a}", "a{", "a}", "a b", "a\nb", " a"} {
		tests = append(tests, struct {
			name string
			env  map[string]string
			want []string
		}{"key prefix " + v, map[string]string{"THREADSYNC_KEY_PREFIX": v}, []string{"THREADSYNC_KEY_PREFIX: "}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadConfig(t.Context(), envconfig.MapLookuper(tt.env))
			if err == nil {
				t.Fatalf("no error; config %+v", *c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConfigErrorsHideURLPasswords(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-secret"
	for _, env := range []map[string]string{
		{"REDIS_URL": "http://:" + pw + "@localhost:6379"},
		{"REDIS_URL": "redis://:" + pw + "@local host:6379"},
		{"NATS_URL": "http://user:" + pw + "@localhost:4222"},
		{"NATS_URL": "nats://" + pw + "@bad host:4222"},
	} {
		_, err := LoadConfig(t.Context(), envconfig.MapLookuper(env))
		if err == nil {
			t.Errorf("%v: no error", env)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestConfigLogValueHidesPasswords(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(t.Context(), envconfig.MapLookuper(map[string]string{
		"REDIS_URL": "redis://default:pw-redis-1234@redis:6379/0",
		"NATS_URL":  "nats://tok-nats-5678@a:4222,nats://u:pw-nats-9012@b:4222,nats://c:4222",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	out := buf.String()
	for _, secret := range []string{"pw-redis-1234", "tok-nats-5678", "pw-nats-9012"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %s: %s", secret, out)
		}
	}
	var rec struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		if _, ok := rec.Config[s.Env]; !ok {
			t.Errorf("log lacks %s", s.Env)
		}
	}
	if got := rec.Config["THREADSYNC_STREAM"]; got != "INBOX" {
		t.Errorf("THREADSYNC_STREAM logged as %v", got)
	}
	if got, _ := rec.Config["NATS_URL"].(string); !strings.Contains(got, "nats://c:4222") {
		t.Errorf("NATS_URL logged as %q", got)
	}
}

func TestConfigLogger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level, format string
		debug, json   bool
	}{
		{"debug", "json", true, true},
		{"info", "text", false, false},
		{"WARN", "JSON", false, true},
	}
	for _, tt := range tests {
		c := Config{LogLevel: tt.level, LogFormat: tt.format}
		var buf bytes.Buffer
		log := c.Logger(&buf)
		log.Debug("d")
		log.Error("e")
		out := buf.String()
		if got := strings.Contains(out, "msg=d") || strings.Contains(out, `"msg":"d"`); got != tt.debug {
			t.Errorf("%s: debug logged = %v, want %v: %s", tt.level, got, tt.debug, out)
		}
		if got := strings.HasPrefix(out, "{"); got != tt.json {
			t.Errorf("%s: json = %v, want %v: %s", tt.format, got, tt.json, out)
		}
	}
}

func ExampleLoadConfig() {
	env := envconfig.MapLookuper(map[string]string{
		"THREADSYNC_STREAM":        "ACME",
		"THREADSYNC_POLL_INTERVAL": "1m",
	})
	c, err := LoadConfig(context.Background(), env)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Stream, c.PollInterval, c.NATSURL)

	_, err = LoadConfig(context.Background(), envconfig.MapLookuper(map[string]string{
		"THREADSYNC_SUBJECT_PREFIX": "acme.>",
		"THREADSYNC_POLL_INTERVAL":  "soon",
	}))
	fmt.Println(err)
	// Output:
	// ACME 1m0s nats://127.0.0.1:4222
	// THREADSYNC_POLL_INTERVAL: time: invalid duration "soon"
}
