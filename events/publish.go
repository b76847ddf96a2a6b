package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	bufs    *sendBuffers // the batch's messages, reused once all are acknowledged
}

// Send publishes evs in order without waiting for their acknowledgements,
// so the caller can prepare the next batch meanwhile; Wait says whether all
// of them were stored. Sending stops at the first event that cannot be sent.
// Under a recording span in ctx, each event gets a PRODUCER span and
// carries its trace context.
func (p *Publisher) Send(ctx context.Context, evs []Event) *Pending {
	if len(evs) == 0 {
		return &Pending{p: p} // most pages of a quiet inbox
	}
	b := &Pending{p: p, futures: make([]jetstream.PubAckFuture, 0, len(evs)), bufs: getSendBuffers(len(evs))}
	traced := trace.SpanFromContext(ctx).IsRecording()
	var spans []trace.Span
	if traced {
		spans = make([]trace.Span, len(evs))
	}
	// The messages are made first and published after, in a tight loop:
	// the connection then writes them in larger batches, which the
	// server reads at less cost.
	bufs := b.bufs
	ready, failed := len(evs), -1
	var err error
	for i := range evs {
		e := &evs[i]
		m := &bufs.msgs[i]
		h := m.Header
		if h == nil {
			h = make(nats.Header, 4)
		} else {
			clear(h)
		}
		bufs.ids[i] = e.ID
		h["Content-Type"] = contentTypeHeader
		h["Ce-Type"] = typeHeader(e.Type)
		// Set here rather than with jetstream.WithMsgID, whose options
		// cost allocations per message.
		h[jetstream.MsgIDHeader] = bufs.ids[i : i+1 : i+1]
		*m = nats.Msg{Subject: e.Subject, Header: h}
		if traced {
			spans[i] = startSend(ctx, e, m)
		}
		if m.Data, err = bufs.envelope(e); err != nil {
			ready, failed = i, i
			break
		}
	}
	for i := range ready {
		f, perr := p.publishAsync(ctx, &bufs.msgs[i])
		if perr != nil {
			ready, failed, err = i, i, perr
			break
		}
		b.futures = append(b.futures, f)
	}
	if failed >= 0 {
		for i := failed; i < len(spans) && spans[i] != nil; i++ {
			endSend(spans[i], nil, err)
		}
		e := &evs[failed]
		b.err = fmt.Errorf("%w: event %s (%s) on %s: %w", ErrPublish, e.ID, e.Type, e.Subject, err)
	}
	if traced {
		b.spans = spans[:ready]
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
	if b.bufs != nil && b.err == nil {
		// Every message is acknowledged: nothing refers to them any
		// more (nats.go copies a message when it writes it, and keeps
		// it for a resend only until its acknowledgement).
		putSendBuffers(b.bufs)
	}
	b.bufs = nil
	return b.err
}

// publishAsync publishes m asynchronously, waiting up to the publish
// timeout for room while MaxInFlight publishes are unacknowledged.
func (p *Publisher) publishAsync(ctx context.Context, m *nats.Msg) (jetstream.PubAckFuture, error) {
	// Without options PublishMsgAsync spares their per-message
	// allocations, and waits for room a short while only: wait again
	// until the timeout.
	var deadline time.Time
	for {
		f, err := p.js.PublishMsgAsync(m)
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return f, err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(p.timeout - stallWait)
		}
		if !time.Now().Before(deadline) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", err, ctx.Err())
		}
	}
}

// stallWait is how long PublishMsgAsync without options waits for room
// (nats.go's default async stall wait).
const stallWait = 200 * time.Millisecond

// The headers every event carries besides its id, shared by the events of
// a sync and never modified (nats.Header's Set and Add replace or copy a
// value slice).
var (
	contentTypeHeader   = []string{"application/cloudevents+json"}
	threadCreatedHeader = []string{string(ThreadCreated)}
	messageHeader       = []string{string(MessageReceived)}
	replyNeededHeader   = []string{string(ReplyNeeded)}
)

// typeHeader is the Ce-Type header of events of type t.
func typeHeader(t Type) []string {
	switch t {
	case ThreadCreated:
		return threadCreatedHeader
	case MessageReceived:
		return messageHeader
	case ReplyNeeded:
		return replyNeededHeader
	}
	return []string{string(t)}
}

// sendBuffers are the messages of one batch: their structs, header maps
// and id values, and the chunks of memory their envelopes are written in,
// each envelope a slice of its own capacity. Reused from batch to batch
// once every message of one is acknowledged, they spare the publish path
// most of its allocations.
type sendBuffers struct {
	msgs   []nats.Msg
	ids    []string
	chunks [][]byte // in use by this batch, the last one being filled
	spare  [][]byte // emptied, for the next chunks
}

var sendPool sync.Pool // of *sendBuffers

func getSendBuffers(n int) *sendBuffers {
	b, _ := sendPool.Get().(*sendBuffers)
	if b == nil {
		b = &sendBuffers{}
	}
	if n > len(b.msgs) {
		msgs := make([]nats.Msg, n)
		copy(msgs, b.msgs) // keeps their header maps
		b.msgs, b.ids = msgs, make([]string, n)
	}
	return b
}

func putSendBuffers(b *sendBuffers) {
	for _, c := range b.chunks {
		b.spare = append(b.spare, c[:0])
	}
	clear(b.chunks)
	b.chunks = b.chunks[:0]
	sendPool.Put(b)
}

// chunkSize is the size of the chunks envelopes are written in: some fifty
// typical events; room for one of 4 KiB is left in each.
const chunkSize = 64 << 10

func (b *sendBuffers) envelope(e *Event) ([]byte, error) {
	var buf []byte
	if n := len(b.chunks); n > 0 {
		buf = b.chunks[n-1]
	}
	if cap(buf)-len(buf) < 4<<10 {
		if n := len(b.spare); n > 0 {
			buf, b.spare = b.spare[n-1], b.spare[:n-1]
		} else {
			buf = make([]byte, 0, chunkSize)
		}
		b.chunks = append(b.chunks, buf)
	}
	tail := buf[len(buf):]
	out, err := appendEnvelope(tail, e)
	if err != nil {
		return nil, err
	}
	if cap(out) == cap(tail) {
		// Written in place; a larger one got an array of its own.
		b.chunks[len(b.chunks)-1] = buf[:len(buf)+len(out)]
	}
	return out[:len(out):len(out)], nil
}

// await waits for every future and returns the first failure; spans, when
// not nil, are the futures' spans, ended with their outcome.
func (p *Publisher) await(ctx context.Context, futures []jetstream.PubAckFuture, spans []trace.Span) error {
	// Each future fails on its own after the publish timeout; the timer
	// only guards against a future that never resolves.
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var first error
	span := func(i int) trace.Span {
		if spans == nil {
			return nil
		}
		return spans[i]
	}
	// The stream acknowledges in publish order, mostly: waiting for the
	// last future first, the others are resolved by then, and each takes
	// one look rather than a wake-up of this goroutine per
	// acknowledgement. Iterating backwards, the failure kept last is the
	// first one.
	for i := len(futures) - 1; i >= 0; i-- {
		f := futures[i]
		select {
		case ack := <-f.Ok():
			endSend(span(i), ack, nil)
			continue
		default:
		}
		if timer == nil {
			timer = time.NewTimer(2 * p.timeout)
		}
		select {
		case ack := <-f.Ok():
			endSend(span(i), ack, nil)
		case err := <-f.Err():
			endSend(span(i), nil, err)
			first = fmt.Errorf("%w: subject %s: %w", ErrPublish, f.Msg().Subject, err)
		case <-timer.C:
			err := fmt.Errorf("%w: no acknowledgement within %s", ErrPublish, 2*p.timeout)
			for j := i; j >= 0; j-- {
				endSend(span(j), nil, err)
			}
			return err
		case <-ctx.Done():
			err := fmt.Errorf("%w: %w", ErrPublish, ctx.Err())
			for j := i; j >= 0; j-- {
				endSend(span(j), nil, err)
			}
			return err
		}
	}
	return first
}
