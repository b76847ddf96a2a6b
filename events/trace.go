package events

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Traces: every event published under a recording span gets a PRODUCER span
// of its own, and that span's W3C trace context travels with the event, in
// the envelope (the CloudEvents distributed tracing extension: traceparent,
// tracestate) and in the NATS headers, so a consumer continues the trace.
// Unsampled or untraced publishes make no span and add nothing.

const tracerName = "github.com/threadsync/threadsync/events"

// The global provider is read at each use, so one the program installs
// after this package's initialisation is the one used.
func tracer() trace.Tracer { return otel.GetTracerProvider().Tracer(tracerName) }

var traceContext = propagation.TraceContext{}

// destinationTemplate is subject with its provider and account tokens
// replaced by their names, for span names of bounded cardinality.
func destinationTemplate(subject string, t Type) string {
	prefix := strings.TrimSuffix(subject, "."+t.suffix())
	if i := strings.LastIndexByte(prefix, '.'); i > 0 {
		if j := strings.LastIndexByte(prefix[:i], '.'); j > 0 {
			prefix = prefix[:j]
		}
	}
	return prefix + ".{provider}.{account}." + t.suffix()
}

// startSend opens the PRODUCER span of one event and stamps the event and
// its message with the span's trace context.
func startSend(ctx context.Context, e *Event, m *nats.Msg) trace.Span {
	_, span := tracer().Start(ctx, "send "+destinationTemplate(e.Subject, e.Type),
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.operation.name", "publish"),
			attribute.String("messaging.destination.name", e.Subject),
			attribute.String("messaging.message.id", e.ID),
			attribute.String("cloudevents.event_type", string(e.Type)),
		))
	traceContext.Inject(trace.ContextWithSpan(ctx, span), natsCarrier(m.Header))
	e.TraceParent, e.TraceState = m.Header.Get("traceparent"), m.Header.Get("tracestate")
	return span
}

// natsCarrier carries trace context in NATS headers under the W3C names as
// they are written (traceparent, tracestate): NATS header names are case
// sensitive, unlike HTTP's.
type natsCarrier nats.Header

func (c natsCarrier) Get(key string) string {
	if v := nats.Header(c).Get(key); v != "" {
		return v
	}
	// Publishers that canonicalise names, as HTTP does.
	return nats.Header(c).Get(http.CanonicalHeaderKey(key))
}

func (c natsCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

func (c natsCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// endSend closes an event's span with what its acknowledgement said.
func endSend(span trace.Span, ack *jetstream.PubAck, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "not acknowledged")
	} else if ack != nil {
		span.SetAttributes(
			attribute.String("messaging.nats.stream", ack.Stream),
			attribute.String("messaging.nats.stream.sequence", strconv.FormatUint(ack.Sequence, 10)),
			attribute.Bool("messaging.nats.duplicate", ack.Duplicate),
		)
	}
	span.End()
}

// startProcess opens the CONSUMER span of a delivered message, a child of
// the trace its publisher sent with it, and returns the context a handler
// continues that trace in.
func startProcess(ctx context.Context, tp trace.TracerProvider, m jetstream.Msg) (context.Context, trace.Span) {
	ctx = traceContext.Extract(ctx, natsCarrier(m.Headers()))
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, nil
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	typ := Type(m.Headers().Get("Ce-Type"))
	return tp.Tracer(tracerName).Start(ctx, "process "+destinationTemplate(m.Subject(), typ),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", m.Subject()),
			attribute.String("messaging.message.id", m.Headers().Get(jetstream.MsgIDHeader)),
		))
}
