package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopDuringStartup stops threadsync while it starts: at the first
// thing it writes (the earliest moment its handler is known to be in
// place), and while it waits for NATS, Redis or the stream. Every stop is
// prompt and clean: exit status 0 and a line saying it stopped during
// start-up, never the default death by signal. Each case runs a few times,
// with SIGTERM and SIGINT (and SIGHUP, which stops tail but only reloads
// run's accounts file).
func TestStopDuringStartup(t *testing.T) {
	t.Parallel()
	// The backing's NATS and Redis are up; a case's env says what is not.
	b := newBacking(t)
	// Nothing answers at the account's URL: polling, if it starts, fails
	// and retries, which changes nothing here.
	b.writeAccounts("accounts:\n  - provider: mirakl\n    id: shop-1\n    base_url: http://127.0.0.1:1\n    token: k\n    options: {shop_id: \"1\"}\n")
	const (
		natsDown  = "NATS_URL=nats://127.0.0.1:1"
		redisDown = "REDIS_URL=redis://127.0.0.1:1/0"
	)
	for _, c := range []struct {
		name string
		cmd  string
		env  []string
		// wait is the line to see before signalling; empty: the first
		// output, whatever it is.
		wait []string
		sigs []os.Signal // taken in turn, one per repetition
		// mayFinish: start-up can complete before the signal lands, and
		// then the stop is the normal one.
		mayFinish bool
		embedded  bool
	}{
		{name: "run/NATS down", cmd: "run", env: []string{natsDown},
			wait: []string{"", "waiting for NATS"}, sigs: []os.Signal{syscall.SIGTERM, os.Interrupt}},
		{name: "run/embedded NATS, Redis down", cmd: "run", env: []string{redisDown}, embedded: true,
			wait: []string{"", "waiting for Redis"}, sigs: []os.Signal{syscall.SIGTERM, os.Interrupt}},
		{name: "run/all up", cmd: "run",
			wait: []string{""}, sigs: []os.Signal{syscall.SIGTERM, os.Interrupt}, mayFinish: true},
		{name: "run/embedded NATS, all up", cmd: "run", embedded: true,
			wait: []string{""}, sigs: []os.Signal{syscall.SIGTERM, os.Interrupt}, mayFinish: true},
		{name: "tail/NATS down", cmd: "tail", env: []string{natsDown},
			wait: []string{""}, sigs: []os.Signal{syscall.SIGTERM, os.Interrupt, syscall.SIGHUP}},
		{name: "tail/no stream", cmd: "tail", env: []string{"THREADSYNC_STREAM=NOSUCHSTREAM"},
			wait: []string{"", "waiting for the stream"}, sigs: []os.Signal{syscall.SIGTERM, os.Interrupt, syscall.SIGHUP}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for i := range 4 {
				env := append(b.env(c.env...), "THREADSYNC_LOG_LEVEL=debug")
				if c.embedded {
					env = append(env, "THREADSYNC_EMBEDDED_NATS=true", "THREADSYNC_EMBEDDED_NATS_LISTEN=127.0.0.1:0",
						"THREADSYNC_DATA_DIR="+t.TempDir())
				}
				p := startProc(t, fmt.Sprintf("%s #%d", c.cmd, i), env, c.cmd)
				wait, sig := c.wait[i%len(c.wait)], c.sigs[i%len(c.sigs)]
				if wait == "" {
					select {
					case <-p.output:
					case <-p.exited:
						t.Fatalf("%s exited before writing anything: %v", p.name, p.err)
					case <-time.After(60 * time.Second):
						t.Fatalf("%s wrote nothing within 60s", p.name)
					}
				} else {
					p.waitLog(wait)
				}
				if c.cmd == "run" && i%2 == 1 {
					// A SIGHUP while starting is a reload asked early, not
					// a stop, and certainly not a death by signal.
					p.signal(syscall.SIGHUP)
				}
				p.signal(sig)
				p.waitExit(0, 20*time.Second)
				out := p.logs.String()
				switch {
				case strings.Contains(out, `msg="stopped during start-up"`):
				case c.mayFinish && strings.Contains(out, "every page in hand was committed"):
				default:
					t.Fatalf("%s: %v during start-up: no line saying it stopped then\n%s", p.name, sig, p)
				}
				if strings.Contains(out, "level=ERROR") {
					t.Fatalf("%s: an error logged on a stop during start-up\n%s", p.name, p)
				}
			}
		})
	}
}
