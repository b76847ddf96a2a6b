package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes what it is sent
// and keeps the spans and the raw bodies.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   bytes.Buffer
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.URL.Path != "/v1/traces" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var req collector.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.raw.Write(body)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collector.ExportTraceServiceResponse{})
	w.Write(b)
}

func (o *otlpReceiver) snapshot() ([]*tracepb.Span, []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*tracepb.Span(nil), o.spans...), bytes.Clone(o.raw.Bytes())
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			switch v := a.Value.Value.(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			case *commonpb.AnyValue_IntValue:
				return fmt.Sprint(v.IntValue)
			case *commonpb.AnyValue_BoolValue:
				return fmt.Sprint(v.BoolValue)
			}
		}
	}
	return ""
}

// tree renders the spans of one trace as an indented tree, children in
// start order.
func tree(spans []*tracepb.Span, trace []byte) string {
	children := map[string][]*tracepb.Span{}
	for _, s := range spans {
		if bytes.Equal(s.TraceId, trace) {
			children[hex.EncodeToString(s.ParentSpanId)] = append(children[hex.EncodeToString(s.ParentSpanId)], s)
		}
	}
	var b strings.Builder
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		kids := children[parent]
		sort.Slice(kids, func(i, j int) bool { return kids[i].StartTimeUnixNano < kids[j].StartTimeUnixNano })
		for _, s := range kids {
			fmt.Fprintf(&b, "%s%s [%s]", strings.Repeat("  ", depth), s.Name, strings.TrimPrefix(s.Kind.String(), "SPAN_KIND_"))
			for _, k := range []string{"http.response.status_code", "http.request.resend_count", "messaging.message.id", "messaging.nats.stream.sequence", "db.system.name"} {
				if v := attr(s, k); v != "" {
					fmt.Fprintf(&b, " %s=%s", k, v)
				}
			}
			b.WriteString("\n")
			walk(hex.EncodeToString(s.SpanId), depth+1)
		}
	}
	walk("", 0)
	return b.String()
}

// TestTracesFollowAnEvent runs the binary with an OTLP endpoint: the spans
// of a poll reach the receiver as one tree (poll, its pages, every
// provider request as an HTTP client span, each event's PRODUCER span with
// its id and stream sequence, the Redis commit), no token is in any of
// them, and a consumer reading an event continues the trace its
// traceparent names.
func TestTracesFollowAnEvent(t *testing.T) {
	t.Parallel()
	recv := &otlpReceiver{}
	otlp := httptest.NewServer(recv)
	t.Cleanup(otlp.Close)
	shop := pollerstest.NewShop(t, 3, 2, nil)
	// A 429 on the first list request: the retry is a second client span.
	shop.InjectFault(miraklsim.Fault{Endpoint: "M11", Status: http.StatusTooManyRequests, RetryAfter: "1"})
	b := newBacking(t)
	b.writeAccounts("accounts:\n" + accountEntry(shop.Account("shop-2001", nil)))
	ts := startProc(t, "threadsync", b.env("OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL, "OTEL_BSP_SCHEDULE_DELAY=50", "THREADSYNC_POLL_INTERVAL=1h"), "run")
	ts.waitReady()
	want := pollerstest.Expect(shop.Truth(pollerstest.MiraklShop)).Events()
	waitFor(t, "the inbox on the stream", 60*time.Second, func() bool { return int(b.js.Count(t)) >= want }, ts)
	waitFor(t, "the poll's spans exported", 30*time.Second, func() bool {
		spans, _ := recv.snapshot()
		for _, s := range spans {
			if s.Name == "threadsync.poll" {
				return true
			}
		}
		return false
	}, ts)
	ts.stop()

	spans, raw := recv.snapshot()
	if bytes.Contains(raw, []byte(shop.Key)) {
		t.Fatal("a span carries the shop's key")
	}
	var poll *tracepb.Span
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.SpanId)] = s
		if s.Name == "threadsync.poll" && poll == nil {
			poll = s
		}
	}
	t.Logf("span tree of the first poll:\n%s", tree(spans, poll.TraceId))
	kinds := map[string]int{}
	var sends []*tracepb.Span
	for _, s := range spans {
		if !bytes.Equal(s.TraceId, poll.TraceId) {
			continue
		}
		switch {
		case s.Kind == tracepb.Span_SPAN_KIND_CLIENT && strings.HasPrefix(s.Name, "GET "):
			kinds["http"]++
			if u := attr(s, "url.full"); !strings.HasPrefix(u, shop.URL) || attr(s, "http.response.status_code") == "" {
				t.Fatalf("client span %s: url.full %q, status %q", s.Name, u, attr(s, "http.response.status_code"))
			}
			if attr(s, "http.request.resend_count") == "1" {
				kinds["resend"]++
			}
		case s.Kind == tracepb.Span_SPAN_KIND_PRODUCER:
			kinds["send"]++
			sends = append(sends, s)
			if attr(s, "messaging.system") != "nats" || attr(s, "messaging.message.id") == "" || attr(s, "messaging.nats.stream") != b.js.Stream || attr(s, "messaging.nats.stream.sequence") == "" {
				t.Fatalf("producer span %s lacks its attributes: %v", s.Name, s.Attributes)
			}
			if p := byID[hex.EncodeToString(s.ParentSpanId)]; p == nil || p.Name != "threadsync.page" {
				t.Fatalf("producer span %s is not a page's child", s.Name)
			}
		case s.Name == "threadsync.page":
			kinds["page"]++
		case s.Name == "threadsync.commit":
			kinds["commit"]++
		}
	}
	if kinds["http"] < 2 || kinds["resend"] != 1 || kinds["send"] != want || kinds["page"] == 0 || kinds["commit"] != kinds["page"] {
		t.Fatalf("spans of the poll: %v (want %d sends, one resend)", kinds, want)
	}

	// The consumer: the handler's context continues the producer's trace.
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	sub, err := events.NewSubscriber(b.js.JS, events.SubscriberConfig{Durable: "trace-test", TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := sub.Subscribe(ctx, b.js.Prefix+".>")
	if err != nil {
		t.Fatal(err)
	}
	m := <-msgs
	env, err := events.ParseEnvelope(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.SpanContextFromContext(m.Context())
	var producer *tracepb.Span
	for _, s := range sends {
		if attr(s, "messaging.message.id") == env.ID {
			producer = s
		}
	}
	if producer == nil || env.TraceParent == "" || !strings.Contains(env.TraceParent, hex.EncodeToString(producer.SpanId)) {
		t.Fatalf("event %s: traceparent %q, producer span %v", env.ID, env.TraceParent, producer)
	}
	if sc.TraceID().String() != hex.EncodeToString(poll.TraceId) {
		t.Fatalf("the handler's trace %s is not the poll's %x", sc.TraceID(), poll.TraceId)
	}
	m.Ack()
	cancel()
	_ = sub.Close()
	var consumer bool
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindConsumer && s.Parent.SpanID().String() == hex.EncodeToString(producer.SpanId) {
			consumer = true
		}
	}
	if !consumer {
		t.Fatalf("no CONSUMER span child of the event's producer span among %d", len(exp.GetSpans()))
	}
}
