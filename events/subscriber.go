package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// SubscriberConfig configures a Subscriber.
type SubscriberConfig struct {
	// Stream is the stream to read (default "INBOX").
	Stream string
	// Durable names the consumer group: subscribers with the same Durable
	// and topic share the work and the position (required).
	Durable string
	// AckWait is how long a delivered message may stay unacknowledged
	// before JetStream delivers it again (default 30s).
	AckWait time.Duration
	// TracerProvider makes the CONSUMER span of each delivered message
	// that came with a trace context (default: the global provider).
	TracerProvider trace.TracerProvider
	// MaxDeliver bounds deliveries of one message (default -1: unbounded).
	// With watermill's PoisonQueue middleware, failures end up there
	// instead.
	MaxDeliver int
}

func (c *SubscriberConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = "INBOX"
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = -1
	}
}

// Subscriber is a watermill message.Subscriber over durable JetStream
// consumers, for the services that consume threadsync's events: with it a
// watermill Router, with its Retry, PoisonQueue and other middleware, reads
// the stream directly. Topics are subject filters ("inbox.*.*.reply.needed").
// A message is acknowledged to JetStream when the handler acks it, and
// delivered again when the handler nacks it or lets it time out.
type Subscriber struct {
	js  jetstream.JetStream
	cfg SubscriberConfig

	mu     sync.Mutex
	closed bool
	stops  []func()
	wg     sync.WaitGroup
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a subscriber reading through js.
func NewSubscriber(js jetstream.JetStream, cfg SubscriberConfig) (*Subscriber, error) {
	cfg.setDefaults()
	if err := ValidToken("durable", cfg.Durable); err != nil {
		return nil, fmt.Errorf("events: subscriber: %w", err)
	}
	return &Subscriber{js: js, cfg: cfg}, nil
}

// Subscribe delivers the messages of the subjects matching topic, from the
// consumer's last acknowledged position (from the start of the stream the
// first time), until ctx is cancelled or the subscriber closes. Each message
// waits for its ack or nack before the next is delivered, so the order of
// events is kept.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("events: subscriber closed")
	}
	// One durable per (group, filter); its name must be a single token.
	sum := sha256.Sum256([]byte(topic))
	name := s.cfg.Durable + "_" + hex.EncodeToString(sum[:6])
	cons, err := s.js.CreateOrUpdateConsumer(ctx, s.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: topic,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.cfg.AckWait,
		MaxDeliver:    s.cfg.MaxDeliver,
		MaxAckPending: 1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("events: subscribe %s: %w", topic, err)
	}
	out := make(chan *message.Message)
	subCtx, cancel := context.WithCancel(ctx)
	cc, err := cons.Consume(func(m jetstream.Msg) { s.deliver(subCtx, m, out) })
	if err != nil {
		cancel()
		return nil, fmt.Errorf("events: subscribe %s: %w", topic, err)
	}
	s.stops = append(s.stops, cancel)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-subCtx.Done()
		cc.Stop()
		<-cc.Closed()
		close(out)
	}()
	return out, nil
}

// deliver hands one JetStream message to the subscriber's channel and
// settles it as the handler decides. A subscriber that is closing hands out
// nothing more, and a message the handler settled is settled that way even
// when the close comes at the same moment: acknowledged work is never
// delivered again.
func (s *Subscriber) deliver(ctx context.Context, m jetstream.Msg, out chan<- *message.Message) {
	if ctx.Err() != nil {
		_ = m.Nak()
		return
	}
	id := m.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		id = m.Subject()
	}
	wm := message.NewMessage(id, m.Data())
	for k, v := range m.Headers() {
		if len(v) > 0 {
			wm.Metadata.Set(k, v[0])
		}
	}
	wm.Metadata.Set("subject", m.Subject())
	// The handler's context continues the trace the publisher sent.
	msgCtx, span := startProcess(ctx, s.cfg.TracerProvider, m)
	if span != nil {
		defer span.End()
	}
	msgCtx, cancel := context.WithCancel(msgCtx)
	defer cancel()
	wm.SetContext(msgCtx)
	select {
	case out <- wm:
	case <-ctx.Done():
		_ = m.Nak()
		return
	}
	ack := func() {
		// The subscription's context may be done by now; the ack must
		// still reach the server.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = m.DoubleAck(actx)
	}
	select {
	case <-wm.Acked():
		ack()
	case <-wm.Nacked():
		if span != nil {
			span.SetStatus(codes.Error, "nacked")
		}
		_ = m.Nak()
	case <-ctx.Done():
		select {
		case <-wm.Acked():
			ack()
		default:
			_ = m.Nak()
		}
	}
}

// Close stops every subscription and waits until their channels are closed.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	stops := s.stops
	s.stops = nil
	s.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	s.wg.Wait()
	return nil
}
