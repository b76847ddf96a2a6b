package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/threadsync/threadsync/events"
)

// tail prints every event on the stream, from the first, one readable line
// each, until ctx is cancelled. Cancelled before it reads (waiting for NATS
// or the stream), it returns errStartupStopped.
func tail(ctx context.Context, cfg *Config, w io.Writer, log *slog.Logger) error {
	nc, err := connectNATS(ctx, cfg.NATSURL, cfg, log)
	if err != nil {
		return startupErr(ctx, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	err = events.Follow(ctx, js, cfg.Stream, func(err error) {
		log.Info("waiting for the stream", "stream", cfg.Stream, "error", err)
	}, func(raw []byte) { fmt.Fprintln(w, events.Describe(raw)) })
	return startupErr(ctx, err)
}
