package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
)

// ErrPublish wraps every failure to get an event acknowledged; the page it
// belongs to must not be committed.
var ErrPublish = errors.New("publish")

// Publisher publishes events to JetStream asynchronously and waits for the
// acknowledgement of every one before reporting success, so a caller never
// moves its cursor past an event the stream has not stored.
type Publisher struct {
	js      jetstream.JetStream
	timeout time.Duration
}

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// MaxInFlight bounds unacknowledged publishes across all callers (default 4096).
	MaxInFlight int
	// Timeout bounds the wait for one publish's acknowledgement (default 10s).
	Timeout time.Duration
}

func (c *PublisherConfig) setDefaults() {
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 4096
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
}

// NewPublisher returns a publisher on the connection nc.
func NewPublisher(nc *nats.Conn, c PublisherConfig) (*Publisher, error) {
	c.setDefaults()
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(c.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(c.Timeout),
	)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Publisher{js: js, timeout: c.Timeout}, nil
}

// JetStream returns the JetStream context the publisher uses.
func (p *Publisher) JetStream() jetstream.JetStream { return p.js }

// Publish publishes evs in order and returns once JetStream has acknowledged
// every one of them, or with the first error. Events already stored are
// harmless to publish again: their ids make JetStream drop the copies.
func (p *Publisher) Publish(ctx context.Context, evs []Event) error {
	return p.Send(ctx, evs).Wait(ctx)
}

// Pending is a batch of events sent and not yet known to be acknowledged.
type Pending struct {
	p       *Publisher
	futures []jetstream.PubAckFuture
	spans   []trace.Span // per future, when traced
	err     error
}

// Send publishes evs in order without waiting for their acknowledgements,
// so the caller can prepare the next batch meanwhile; Wait says whether all
// of them were stored. Sending stops at the first event that cannot be sent.
// Under a recording span in ctx, each event gets a PRODUCER span and
// carries its trace context.
func (p *Publisher) Send(ctx context.Context, evs []Event) *Pending {
	b := &Pending{p: p, futures: make([]jetstream.PubAckFuture, 0, len(evs))}
	traced := trace.SpanFromContext(ctx).IsRecording()
	if traced {
		b.spans = make([]trace.Span, 0, len(evs))
	}
	for i := range evs {
		var span trace.Span
		msg, err := evs[i].natsMsg(func(m *nats.Msg) {
			if traced {
				span = startSend(ctx, &evs[i], m)
			}
		})
		if err == nil {
			var f jetstream.PubAckFuture
			f, err = p.js.PublishMsgAsync(msg, jetstream.WithMsgID(evs[i].ID), jetstream.WithStallWait(p.timeout))
			if err == nil {
				b.futures = append(b.futures, f)
				if traced {
					b.spans = append(b.spans, span)
				}
				continue
			}
		}
		endSend(span, nil, err)
		b.err = fmt.Errorf("%w: event %s (%s) on %s: %w", ErrPublish, evs[i].ID, evs[i].Type, evs[i].Subject, err)
		break
	}
	return b
}

// Wait returns once every event of the batch is acknowledged, or with the
// first failure. It waits for everything sent even after a failure, so no
// acknowledgement is left dangling while the caller retries.
func (b *Pending) Wait(ctx context.Context) error {
	if err := b.p.await(ctx, b.futures, b.spans); b.err == nil {
		b.err = err
	}
	b.futures, b.spans = nil, nil
	return b.err
}

// await waits for every future and returns the first failure; spans, when
// not nil, are the futures' spans, ended with their outcome.
func (p *Publisher) await(ctx context.Context, futures []jetstream.PubAckFuture, spans []trace.Span) error {
	// Each future fails on its own after the publish timeout; the timer
	// only guards against a future that never resolves.
	timer := time.NewTimer(2 * p.timeout)
	defer timer.Stop()
	var first error
	span := func(i int) trace.Span {
		if spans == nil {
			return nil
		}
		return spans[i]
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			endSend(span(i), ack, nil)
		case err := <-f.Err():
			endSend(span(i), nil, err)
			if first == nil {
				first = fmt.Errorf("%w: subject %s: %w", ErrPublish, f.Msg().Subject, err)
			}
		case <-timer.C:
			err := fmt.Errorf("%w: no acknowledgement within %s", ErrPublish, 2*p.timeout)
			for j := i; j < len(futures); j++ {
				endSend(span(j), nil, err)
			}
			return err
		case <-ctx.Done():
			err := fmt.Errorf("%w: %w", ErrPublish, ctx.Err())
			for j := i; j < len(futures); j++ {
				endSend(span(j), nil, err)
			}
			return err
		}
	}
	return first
}

// natsMsg is the event as a NATS message; stamp, called before the
// envelope is encoded, may add headers and trace context to both.
func (e *Event) natsMsg(stamp func(m *nats.Msg)) (*nats.Msg, error) {
	m := nats.NewMsg(e.Subject)
	m.Header.Set("Content-Type", "application/cloudevents+json")
	m.Header.Set("Ce-Type", string(e.Type))
	stamp(m)
	// Calling MarshalJSON directly spares encoding/json re-validating and
	// compacting the envelope, a sixth of the publish path's CPU.
	data, err := e.MarshalJSON()
	if err != nil {
		return nil, err
	}
	m.Data = data
	return m, nil
}
