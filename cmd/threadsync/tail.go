package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

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
	var stream jetstream.Stream
	for {
		stream, err = js.Stream(ctx, cfg.Stream)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return errStartupStopped
		}
		log.Info("waiting for the stream", "stream", cfg.Stream, "error", err)
		select {
		case <-ctx.Done():
			return errStartupStopped
		case <-time.After(time.Second):
		}
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return startupErr(ctx, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		fmt.Fprintln(w, events.Describe(m.Data()))
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}
