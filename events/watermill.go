package events

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// WatermillPublisher adapts the Publisher to watermill's message.Publisher,
// so code written against watermill can publish through threadsync's async,
// de-duplicated JetStream path. The topic is the NATS subject, the message
// UUID becomes Nats-Msg-Id, and metadata become headers. A stream drops a
// second message with the same UUID within its duplicate window, so a copy
// of a message (a PoisonQueue entry, a forward) belongs in its own stream.
type WatermillPublisher struct {
	p *Publisher
}

var _ message.Publisher = (*WatermillPublisher)(nil)

// Watermill returns the publisher as a watermill message.Publisher.
func (p *Publisher) Watermill() *WatermillPublisher { return &WatermillPublisher{p: p} }

// Publish publishes the messages asynchronously and returns once JetStream
// acknowledged all of them.
func (w *WatermillPublisher) Publish(topic string, msgs ...*message.Message) error {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	var perr error
	for _, m := range msgs {
		nm := nats.NewMsg(topic)
		nm.Data = m.Payload
		for k, v := range m.Metadata {
			nm.Header.Set(k, v)
		}
		f, err := w.p.js.PublishMsgAsync(nm, jetstream.WithMsgID(m.UUID), jetstream.WithStallWait(w.p.timeout))
		if err != nil {
			perr = fmt.Errorf("%w: message %s on %s: %w", ErrPublish, m.UUID, topic, err)
			break
		}
		futures = append(futures, f)
	}
	ctx := context.Background()
	if len(msgs) > 0 && msgs[0].Context() != nil {
		ctx = msgs[0].Context()
	}
	if err := w.p.await(ctx, futures, nil); perr == nil {
		perr = err
	}
	return perr
}

// Close does nothing: the NATS connection belongs to the caller.
func (w *WatermillPublisher) Close() error { return nil }
