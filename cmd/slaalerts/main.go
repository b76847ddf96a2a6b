// Command slaalerts turns threadsync's reply SLA events into Alertmanager
// alerts: ReplySLAWarning fires a warning, ReplySLABreached a critical
// alert, and ReplyResolved resolves both. It consumes the event stream with
// a watermill Router over a durable JetStream consumer, re-posts the active
// alerts periodically so that Alertmanager keeps them firing, and rebuilds
// the active set from the stream when it starts. Run `slaalerts --help` for
// its settings.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Signals are caught before anything else, so one sent while slaalerts
	// starts is a clean exit.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// realMain runs slaalerts with the arguments args until ctx is cancelled and
// returns the exit status.
func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "slaalerts: unexpected arguments %q (settings come from the environment)\n\n", args)
		usage(stderr)
		return 2
	}
	cfg, err := LoadConfig(ctx, nil)
	if err != nil {
		fmt.Fprintf(stderr, "slaalerts: %v\n", err)
		return 1
	}
	log := cfg.Logger(stderr)
	if err := run(ctx, cfg, log); err != nil {
		if ctx.Err() != nil {
			// Stopped while starting: as clean as a stop at any other time.
			log.Info("stopped during start-up")
			return 0
		}
		log.Error("slaalerts stopped", "error", err)
		return 1
	}
	return 0
}
