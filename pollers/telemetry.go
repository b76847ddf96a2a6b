package pollers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
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
	same     metric.Int64Counter
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

	detection metric.Float64Histogram
	responses metric.Int64Counter
	rlPause   metric.Float64Counter
	ack       metric.Float64Histogram
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
	t.same, _ = m.Int64Counter("threadsync.pages.unchanged", metric.WithDescription("pages answered exactly as in a walk that found nothing on them, and so not decoded or diffed"))
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
	t.detection, _ = m.Float64Histogram("threadsync.detection.delay", metric.WithUnit("s"),
		metric.WithDescription("from a message's time at the provider to its MessageReceived acknowledged by the stream, for messages found by polls after the account's first walk"),
		metric.WithExplicitBucketBoundaries(0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120, 300, 600, 1800))
	t.responses, _ = m.Int64Counter("threadsync.provider.responses",
		metric.WithDescription("provider API answers by class: 2xx, 3xx, 4xx, 429, 5xx, or error (no answer: timeout, connection)"))
	t.rlPause, _ = m.Float64Counter("threadsync.ratelimit.pause", metric.WithUnit("s"),
		metric.WithDescription("time accounts were asked to wait by providers' rate limits (429 with Retry-After or their own hints, daily allowances)"))
	t.ack, _ = m.Float64Histogram("threadsync.publish.ack", metric.WithUnit("s"),
		metric.WithDescription("from a page's events sent to JetStream to the last of their acknowledgements"),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
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

// acked records a page's acknowledgement latency and the detection delay
// of the live messages it carried.
func (t *telemetry) acked(provider string, sent time.Time, msgTimes []time.Time) {
	ctx := context.Background()
	p := metric.WithAttributes(attribute.String("provider", provider))
	now := time.Now()
	t.ack.Record(ctx, now.Sub(sent).Seconds(), p)
	for _, at := range msgTimes {
		t.detection.Record(ctx, max(now.Sub(at), 0).Seconds(), p)
	}
}

// responseClass is the class of a provider's answer, for the responses
// counter.
func responseClass(resp *http.Response, err error) string {
	switch {
	case err != nil || resp == nil:
		return "error"
	case resp.StatusCode == http.StatusTooManyRequests:
		return "429"
	}
	return strconv.Itoa(resp.StatusCode/100) + "xx"
}

// answered counts one provider answer.
func (t *telemetry) answered(provider string, resp *http.Response, err error) {
	t.responses.Add(context.Background(), 1, metric.WithAttributes(attribute.String("provider", provider), attribute.String("class", responseClass(resp, err))))
}

// pausedBy counts a pause a provider's rate limit asked for.
func (t *telemetry) pausedBy(provider string, d time.Duration) {
	if t != nil && d > 0 {
		t.rlPause.Add(context.Background(), d.Seconds(), metric.WithAttributes(attribute.String("provider", provider)))
	}
}

// The transport's methods below accept a nil telemetry (a transport built
// outside an engine) and do nothing then.

// startRequest opens the client span of one attempt of a provider request,
// named by its method and URL template (ids in the path replaced).
func (t *telemetry) startRequest(req *http.Request, resends int) (context.Context, trace.Span) {
	ctx := req.Context()
	if t == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	u := RedactURL(req.URL)
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", req.Method),
		attribute.String("url.full", u),
		attribute.String("url.template", urlTemplate(req.URL.Path)),
		attribute.String("server.address", req.URL.Hostname()),
	}
	if resends > 0 {
		attrs = append(attrs, attribute.Int("http.request.resend_count", resends))
	}
	return t.tracer.Start(ctx, req.Method+" "+urlTemplate(req.URL.Path), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// endRequest ends an attempt's span and counts its answer.
func (t *telemetry) endRequest(span trace.Span, provider string, resp *http.Response, err error) {
	if t == nil {
		return
	}
	t.answered(provider, resp, err)
	if span == nil {
		return
	}
	switch {
	case err != nil:
		kind := "connection"
		if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
			kind = "timeout"
		} else if errors.As(err, new(cutBody)) {
			kind = "body_cut_short"
		}
		span.SetAttributes(attribute.String("error.type", kind))
		span.SetStatus(codes.Error, "no answer")
	case resp != nil:
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 400 {
			span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
			span.SetStatus(codes.Error, "")
		}
	}
	span.End()
}

// urlTemplate is path with its ids replaced by {id}, so span names stay
// few: a segment of digits, or with a digit and at least 6 long (a uuid, a
// token), or of 24 or more characters. Version segments (v1, M11) stay.
func urlTemplate(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		digits := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
		if (s != "" && digits) || (len(s) >= 6 && strings.ContainsAny(s, "0123456789")) || len(s) >= 24 {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// startPage opens the span of one page: its message fetches, the diff and
// the events sent.
func (t *telemetry) startPage(ctx context.Context, n int) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "threadsync.page", trace.WithAttributes(attribute.Int("threadsync.page", n)))
}

// startCommit opens the span of a page's Redis commit.
func (t *telemetry) startCommit(ctx context.Context) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "threadsync.commit", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("db.system.name", "redis"), attribute.String("db.operation.name", "EVALSHA")))
}

// endSpan ends span with err's outcome.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
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
	t.same.Add(ctx, int64(st.Same), p)
	t.events.Add(ctx, int64(st.Events), p)
	t.requests.Add(ctx, int64(st.Requests), p)
	t.duration.Record(ctx, time.Since(began).Seconds(), p)
}

// retried counts a provider request sent again, by why.
func (t *telemetry) retried(provider, reason string) {
	t.retries.Add(context.Background(), 1, metric.WithAttributes(attribute.String("provider", provider), attribute.String("reason", reason)))
}
