package pollers

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// The engine reports through the OpenTelemetry API; with no SDK installed
// by the program every call is a no-op. Metric attributes carry the
// provider only, never the account, to keep cardinality bounded with
// thousands of accounts; spans carry both.
const instrumentation = "github.com/threadsync/threadsync/pollers"

type telemetry struct {
	tracer   trace.Tracer
	polls    metric.Int64Counter
	pages    metric.Int64Counter
	events   metric.Int64Counter
	requests metric.Int64Counter
}

func newTelemetry() *telemetry {
	m := otel.Meter(instrumentation)
	t := &telemetry{tracer: otel.Tracer(instrumentation)}
	// Instrument creation only fails on invalid names, which are constants here.
	t.polls, _ = m.Int64Counter("threadsync.polls", metric.WithDescription("walks of an account's thread list, by outcome"))
	t.pages, _ = m.Int64Counter("threadsync.pages", metric.WithDescription("pages committed"))
	t.events, _ = m.Int64Counter("threadsync.events", metric.WithDescription("events published and acknowledged"))
	t.requests, _ = m.Int64Counter("threadsync.provider.requests", metric.WithDescription("provider API requests"))
	return t
}

// startPoll opens the span of one walk.
func (t *telemetry) startPoll(ctx context.Context, a Account) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "threadsync.poll", trace.WithAttributes(
		attribute.String("threadsync.provider", a.Provider),
		attribute.String("threadsync.account", a.ID),
	))
}

// endPoll records a walk's outcome.
func (t *telemetry) endPoll(ctx context.Context, span trace.Span, a Account, st Stats, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
		span.RecordError(err)
		span.SetStatus(codes.Error, "poll failed")
	}
	span.SetAttributes(
		attribute.Int("threadsync.pages", st.Pages),
		attribute.Int("threadsync.events", st.Events),
		attribute.Int("threadsync.changed", st.Changed),
	)
	span.End()
	p := metric.WithAttributes(attribute.String("provider", a.Provider))
	t.polls.Add(ctx, 1, metric.WithAttributes(attribute.String("provider", a.Provider), attribute.String("outcome", outcome)))
	t.pages.Add(ctx, int64(st.Pages), p)
	t.events.Add(ctx, int64(st.Events), p)
	t.requests.Add(ctx, int64(st.Requests), p)
}
