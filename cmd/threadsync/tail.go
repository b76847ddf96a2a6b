package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
		fmt.Fprintln(w, describe(m.Data()))
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

// clock is a time of day in the local zone, with the date when not today.
func clock(t time.Time) string {
	t = t.Local()
	if y, m, d := t.Date(); y != time.Now().Year() || m != time.Now().Month() || d != time.Now().Day() {
		return t.Format("Jan 2 15:04:05")
	}
	return t.Format("15:04:05")
}

// describe renders an event as one line for a person.
func describe(raw []byte) string {
	env, err := events.ParseEnvelope(raw)
	if err != nil {
		return "?? " + err.Error()
	}
	src := strings.TrimPrefix(env.Source, "threadsync/")
	head := fmt.Sprintf("%s  %-22s %-16s thread=%s", env.Time.Local().Format("15:04:05"), src, env.Type, env.Subject)
	d, err := events.DecodeData(env)
	if err != nil {
		return head + "  ?? " + err.Error()
	}
	switch d := d.(type) {
	case *events.ThreadCreatedData:
		return fmt.Sprintf("%s  %q ref=%s:%s", head, d.Thread.Topic, d.Thread.Reference.Type, d.Thread.Reference.ID)
	case *events.MessageReceivedData:
		arrow := "<-"
		if d.Message.Direction == events.Outbound {
			arrow = "->"
		}
		text := d.Message.Text
		if len(text) > 60 {
			text = text[:57] + "..."
		}
		return fmt.Sprintf("%s  %s %s: %q", head, arrow, d.Message.Sender.Name, text)
	case *events.ReplyNeededData:
		line := fmt.Sprintf("%s  waiting since %s (message %s)", head, clock(d.NeededSince), d.LastInboundMessageID)
		if d.DueAt != nil {
			line += fmt.Sprintf("; %s: due %s", d.Policy, clock(*d.DueAt))
		}
		return line
	case *events.ReplySLAData:
		line := fmt.Sprintf("%s  %s: waiting since %s, due %s", head, d.Policy, clock(d.NeededSince), clock(d.DueAt))
		if d.Confirmed != nil && !*d.Confirmed {
			line += " (unconfirmed: the account could not be polled at the deadline)"
		}
		return line
	case *events.ReplyResolvedData:
		line := fmt.Sprintf("%s  %s after %s", head, d.Resolution, time.Duration(d.ResponseSeconds*float64(time.Second)).Round(time.Second))
		if d.AnswerMessageID != "" {
			line += " by message " + d.AnswerMessageID
		}
		if d.WithinSLA != nil {
			verdict := "within"
			if !*d.WithinSLA {
				verdict = "missed"
			}
			line += fmt.Sprintf("; %s %s", d.Policy, verdict)
		}
		return line
	}
	return head
}
