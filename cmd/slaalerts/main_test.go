package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// TestHelp: --help prints the usage with every variable and its default.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h", "help"} {
		var out, errOut bytes.Buffer
		if code := realMain(context.Background(), []string{arg}, &out, &errOut); code != 0 {
			t.Errorf("%s: exit %d", arg, code)
		}
		for _, s := range settings() {
			if !strings.Contains(out.String(), s.Env) || !strings.Contains(out.String(), s.Default) {
				t.Errorf("%s: help lacks %s (default %q):\n%s", arg, s.Env, s.Default, out.String())
			}
		}
	}
	var out, errOut bytes.Buffer
	if code := realMain(context.Background(), []string{"run"}, &out, &errOut); code != 2 {
		t.Errorf("an unexpected argument: exit %d, want 2", code)
	}
}

// TestConfig: the defaults are the documented ones, and every bad setting
// is reported under its variable.
func TestConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := LoadConfig(ctx, envconfig.MapLookuper(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{NATSURL: "nats://127.0.0.1:4222", Stream: "INBOX", SubjectPrefix: "inbox",
		AlertmanagerURL: "http://127.0.0.1:9093", Durable: "slaalerts", Resend: time.Minute,
		ForgetAfter: 168 * time.Hour, LogLevel: "info", LogFormat: "text"}
	if *c != want {
		t.Errorf("defaults %+v, want %+v", *c, want)
	}
	_, err = LoadConfig(ctx, envconfig.MapLookuper(map[string]string{
		"SLAALERTS_ALERTMANAGER_URL": "ftp://am", "SLAALERTS_DURABLE": "a.b", "SLAALERTS_RESEND": "0s",
		"THREADSYNC_SUBJECT_PREFIX": "in box", "SLAALERTS_GENERATOR_URL": "/relative", "SLAALERTS_LOG_LEVEL": "loud",
	}))
	if err == nil {
		t.Fatal("bad settings accepted")
	}
	for _, v := range []string{"SLAALERTS_ALERTMANAGER_URL", "SLAALERTS_DURABLE", "SLAALERTS_RESEND",
		"THREADSYNC_SUBJECT_PREFIX", "SLAALERTS_GENERATOR_URL", "SLAALERTS_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error does not name %s: %v", v, err)
		}
	}
}
