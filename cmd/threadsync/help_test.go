package main

import (
	"bytes"
	"github.com/threadsync/threadsync/internal/accountsfile"
	"strings"
	"testing"
)

func helpText(cmd string) string {
	var b bytes.Buffer
	usage(&b, cmd)
	return b.String()
}

// contract lists the variables ARCHITECTURE.md promises; help must show each
// even if settings() were ever to lose one.
var contract = []string{
	"NATS_URL", "THREADSYNC_EMBEDDED_NATS", "THREADSYNC_DATA_DIR", "REDIS_URL", "THREADSYNC_ACCOUNTS",
	"THREADSYNC_STREAM", "THREADSYNC_SUBJECT_PREFIX", "THREADSYNC_KEY_PREFIX", "THREADSYNC_POLL_INTERVAL",
}

func TestUsageListsEverySetting(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"", "help", "run", "check", "tail", "no-such-command"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			out := helpText(cmd)
			// Descriptions are wrapped, so compare with whitespace collapsed.
			flat := strings.Join(strings.Fields(out), " ")
			for _, name := range contract {
				if !strings.Contains(out, "  "+name+" ") {
					t.Errorf("help lacks %s", name)
				}
			}
			for _, s := range settings() {
				want := "  " + s.Env + " (default " + s.Default + ")\n"
				if s.Default == "" {
					want = "  " + s.Env + "\n" // no default: none is printed
				}
				if !strings.Contains(out, want) {
					t.Errorf("help lacks %s with its default %s", s.Env, s.Default)
				}
				if !strings.Contains(flat, strings.Join(strings.Fields(s.Desc), " ")) {
					t.Errorf("help lacks the description of %s", s.Env)
				}
			}
			for _, f := range accountsfile.Fields {
				if !strings.Contains(out, " "+f.Name+":") {
					t.Errorf("help lacks the account field %s", f.Name)
				}
			}
		})
	}
}

func TestUsageListsCommands(t *testing.T) {
	t.Parallel()
	out := helpText("")
	for _, name := range []string{"run", "check", "tail", "version", "help"} {
		if !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("help lacks the command %s", name)
		}
	}
}

func TestUsageOfCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd     string
		want    string
		withEnv bool
	}{
		{"run", "Usage: threadsync run\n", true},
		{"check", "Usage: threadsync check\n", true},
		{"tail", "Usage: threadsync tail\n", true},
		{"version", "Usage: threadsync version\n", false},
	}
	for _, tt := range tests {
		out := helpText(tt.cmd)
		if !strings.HasPrefix(out, tt.want) {
			t.Errorf("%s: help starts %q, want %q", tt.cmd, out[:min(len(out), 40)], tt.want)
		}
		if got := strings.Contains(out, "Environment:"); got != tt.withEnv {
			t.Errorf("%s: lists the environment = %v, want %v", tt.cmd, got, tt.withEnv)
		}
	}
}

func TestUsageLineWidth(t *testing.T) {
	t.Parallel()
	for i, line := range strings.Split(helpText(""), "\n") {
		// The commands table is the widest part that is not generated from tags.
		if len(line) > 100 {
			t.Errorf("line %d is %d bytes long: %q", i+1, len(line), line)
		}
	}
}

func TestIsHelpFlag(t *testing.T) {
	t.Parallel()
	for arg, want := range map[string]bool{"-h": true, "-help": true, "--help": true, "help": false, "run": false, "": false} {
		if got := isHelpFlag(arg); got != want {
			t.Errorf("isHelpFlag(%q) = %v, want %v", arg, got, want)
		}
	}
}
