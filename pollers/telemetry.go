package pollers

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// The engine reports through the OpenTelemetry API; with no SDK installed
// by the program every call is a no-op. Metric attributes carry the
// provider (and state or outcome) only, never the account, to keep
// cardinality bounded with thousands of accounts; spans carry both.
const instrumentation = "github.com/threadsync/threadsync/pollers"

type telemetry struct {
	meter    metric.Meter
	tracer   trace.Tracer
	polls    metric.Int64Counter
	pages    metric.Int64Counter
	events   metric.Int64Counter
	requests metric.Int64Counter
	retries  metric.Int64Counter
	duration metric.Float64Histogram
	accounts metric.Int64ObservableGauge
	lag      metric.Float64ObservableGauge
	workers  metric.Int64ObservableGauge

	openEpisodes metric.Int64ObservableGauge
	slaEvents    metric.Int64Counter
	backfill     metric.Int64Counter
	stateLost    metric.Int64Counter
	resolved     metric.Int64Counter
	response     metric.Float64Histogram
}

func newTelemetry(mp metric.MeterProvider) *telemetry {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(instrumentation)
	t := &telemetry{meter: m, tracer: otel.Tracer(instrumentation)}
	// Instrument creation only fails on invalid names, which are constants here.
	t.polls, _ = m.Int64Counter("threadsync.polls", metric.WithDescription("walks of an account's thread list, by outcome"))
	t.pages, _ = m.Int64Counter("threadsync.pages", metric.WithDescription("pages committed"))
	t.events, _ = m.Int64Counter("threadsync.events", metric.WithDescription("events published and acknowledged"))
	t.requests, _ = m.Int64Counter("threadsync.provider.requests", metric.WithDescription("provider API requests"))
	t.retries, _ = m.Int64Counter("threadsync.provider.retries", metric.WithDescription("provider requests sent again in place, by reason: 429, 408, 5xx, timeout, connection, body cut short"))
	t.duration, _ = m.Float64Histogram("threadsync.poll.duration", metric.WithUnit("s"),
		metric.WithDescription("time one walk of an account's thread list takes"),
		metric.WithExplicitBucketBoundaries(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
	t.accounts, _ = m.Int64ObservableGauge("threadsync.accounts",
		metric.WithDescription("accounts by state: starting, ok, failing, throttled (paused by the provider's rate limit), standby (another worker holds it), waiting (for Redis or NATS), paused"))
	t.lag, _ = m.Float64ObservableGauge("threadsync.sync.lag", metric.WithUnit("s"),
		metric.WithDescription("time since the least recently synced account this worker holds last completed a poll (since start for one that never did)"))
	t.workers, _ = m.Int64ObservableGauge("threadsync.workers",
		metric.WithDescription("workers alive that share this worker's accounts, itself included"))
	t.openEpisodes, _ = m.Int64ObservableGauge("threadsync.reply.open",
		metric.WithDescription("reply-needed episodes announced and not yet resolved, in the accounts this worker holds"))
	t.backfill, _ = m.Int64Counter("threadsync.backfill.events", metric.WithDescription("events a backfill published: the history a from_now start skipped"))
	t.stateLost, _ = m.Int64Counter("threadsync.state.lost", metric.WithDescription("accounts found with a sync mark but no checkpoint in Redis (Redis lost its data, or the key prefix changed)"))
	t.slaEvents, _ = m.Int64Counter("threadsync.reply.sla",
		metric.WithDescription("reply SLA events published, by kind: warning, breach"))
	t.resolved, _ = m.Int64Counter("threadsync.reply.resolved",
		metric.WithDescription("reply-needed episodes resolved, by resolution (answered, closed, no_reply_needed) and sla (within, missed, none)"))
	t.response, _ = m.Float64Histogram("threadsync.reply.response_time", metric.WithUnit("s"),
		metric.WithDescription("time from a reply becoming needed to the episode's resolution"),
		metric.WithExplicitBucketBoundaries(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200))
	return t
}

// lost counts an account found with its state lost.
func (t *telemetry) lost(provider string) {
	t.stateLost.Add(context.Background(), 1, metric.WithAttributes(attribute.String("provider", provider)))
}

// backfilled counts a backfill page's events.
func (t *telemetry) backfilled(provider string, n int) {
	if n > 0 {
		t.backfill.Add(context.Background(), int64(n), metric.WithAttributes(attribute.String("provider", provider)))
	}
}

// episodes records the reply events of one batch.
func (t *telemetry) episodes(provider string, c episodeCounts) {
	ctx := context.Background()
	if c.warnings > 0 {
		t.slaEvents.Add(ctx, int64(c.warnings), metric.WithAttributes(attribute.String("provider", provider), attribute.String("kind", "warning")))
	}
	if c.breaches > 0 {
		t.slaEvents.Add(ctx, int64(c.breaches), metric.WithAttributes(attribute.String("provider", provider), attribute.String("kind", "breach")))
	}
	for _, d := range c.resolved {
		sla := "none"
		if d.WithinSLA != nil {
			sla = "missed"
			if *d.WithinSLA {
				sla = "within"
			}
		}
		t.resolved.Add(ctx, 1, metric.WithAttributes(attribute.String("provider", provider),
			attribute.String("resolution", string(d.Resolution)), attribute.String("sla", sla)))
		t.response.Record(ctx, d.ResponseSeconds, metric.WithAttributes(attribute.String("provider", provider)))
	}
}

// observe registers the gauges that read the engine's account states at
// each collection.
func (t *telemetry) observe(e *Engine) {
	started := time.Now()
	_, _ = t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		type key struct{ provider, state string }
		counts := map[key]int64{}
		lag := map[string]float64{}
		open := map[string]int64{}
		now := time.Now()
		for _, r := range e.accounts() {
			st, p := r.snapshot(), r.acct.Provider
			counts[key{p, st.State}]++
			if st.State == "standby" {
				continue // another worker keeps it in step
			}
			open[p] += int64(st.OpenEpisodes)
			since := st.LastSuccess
			if since.IsZero() {
				since = started
			}
			lag[p] = max(lag[p], now.Sub(since).Seconds())
		}
		for k, n := range counts {
			o.ObserveInt64(t.accounts, n, metric.WithAttributes(attribute.String("provider", k.provider), attribute.String("state", k.state)))
		}
		for p, s := range lag {
			o.ObserveFloat64(t.lag, s, metric.WithAttributes(attribute.String("provider", p)))
		}
		for p, n := range open {
			o.ObserveInt64(t.openEpisodes, n, metric.WithAttributes(attribute.String("provider", p)))
		}
		o.ObserveInt64(t.workers, int64(e.share.size()))
		return nil
	}, t.accounts, t.lag, t.workers, t.openEpisodes)
}

// startPoll opens the span of one walk.
func (t *telemetry) startPoll(ctx context.Context, a Account) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "threadsync.poll", trace.WithAttributes(
		attribute.String("threadsync.provider", a.Provider),
		attribute.String("threadsync.account", a.ID),
	))
}

// endPoll records a walk's outcome.
func (t *telemetry) endPoll(ctx context.Context, span trace.Span, a Account, st Stats, began time.Time, err error) {
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
	t.duration.Record(ctx, time.Since(began).Seconds(), p)
}

// retried counts a provider request sent again, by why.
func (t *telemetry) retried(provider, reason string) {
	t.retries.Add(context.Background(), 1, metric.WithAttributes(attribute.String("provider", provider), attribute.String("reason", reason)))
}
