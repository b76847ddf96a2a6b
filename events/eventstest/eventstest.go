// Package eventstest runs a real JetStream server for tests and reads back
// what was published, checking every event against its JSON Schema.
package eventstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/embedded"
	"github.com/threadsync/threadsync/schemas"
)

// Env is a JetStream server with the threadsync stream, and a publisher on it.
type Env struct {
	srv       *server.Server
	listen    string
	dir       string
	URL       string
	Conn      *nats.Conn
	JS        jetstream.JetStream
	Publisher *events.Publisher
	Stream    string
	Prefix    string
}

// Start starts an in-process JetStream server on a free port, creates the
// stream "INBOX" on subjects "inbox.>", and stops everything when the test ends.
func Start(tb testing.TB) *Env {
	tb.Helper()
	dir := tb.TempDir()
	srv, err := embedded.Start(embedded.Options{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	env := &Env{srv: srv, dir: dir, URL: srv.ClientURL(), Stream: "INBOX", Prefix: "inbox"}
	env.listen = srv.Addr().String()
	tb.Cleanup(func() { env.srv.Shutdown() })
	env.Conn, err = nats.Connect(env.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(env.Conn.Close)
	env.Publisher, err = events.NewPublisher(env.Conn, events.PublisherConfig{Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	env.JS = env.Publisher.JetStream()
	if _, err := events.EnsureStream(context.Background(), env.JS, events.StreamConfig{
		Name: env.Stream, SubjectPrefix: env.Prefix, Duplicates: time.Hour,
	}); err != nil {
		tb.Fatal(err)
	}
	return env
}

// Stop shuts the server down, as an outage would; Start brings it back on
// the same address with the same storage.
func (e *Env) Stop() { e.srv.Shutdown(); e.srv.WaitForShutdown() }

// Start restarts a stopped server.
func (e *Env) Start(tb testing.TB) {
	tb.Helper()
	srv, err := embedded.Start(embedded.Options{Listen: e.listen, StoreDir: e.dir})
	if err != nil {
		tb.Fatal(err)
	}
	e.srv = srv
}

// Received is one event read back from the stream.
type Received struct {
	Subject  string
	MsgID    string // Nats-Msg-Id header
	Envelope events.Envelope
	Raw      []byte
	Stored   time.Time // when JetStream stored it
}

// ReadAll reads every message in the stream, in stream order, and fails the
// test when one is not a valid threadsync event or its Nats-Msg-Id differs
// from its id.
func (e *Env) ReadAll(tb testing.TB) []Received {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := e.JS.Stream(ctx, e.Stream)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	n := info.State.Msgs
	out := make([]Received, 0, n)
	if n == 0 {
		return out
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	// Tests read the stream again and again while they wait: a consumer
	// left to expire on its own would pile up to the server's limit.
	defer func() {
		if name := c.CachedInfo().Name; name != "" {
			_ = s.DeleteConsumer(context.Background(), name)
		}
	}()
	for uint64(len(out)) < n {
		batch, err := c.Fetch(int(min(n-uint64(len(out)), 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			tb.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			raw := m.Data()
			if err := schemas.Validate(raw); err != nil {
				tb.Fatalf("event on %s does not match its schema: %v\n%s", m.Subject(), err, raw)
			}
			env, err := events.ParseEnvelope(raw)
			if err != nil {
				tb.Fatal(err)
			}
			id := m.Headers().Get(jetstream.MsgIDHeader)
			if id != env.ID {
				tb.Fatalf("event %s: Nats-Msg-Id %q differs from id", env.ID, id)
			}
			r := Received{Subject: m.Subject(), MsgID: id, Envelope: env, Raw: raw}
			if md, err := m.Metadata(); err == nil {
				r.Stored = md.Timestamp
			}
			out = append(out, r)
		}
		if err := batch.Error(); err != nil {
			tb.Fatal(err)
		}
		if got == 0 {
			tb.Fatalf("read %d of %d stream messages, then nothing", len(out), n)
		}
	}
	return out
}

// Count returns how many messages the stream holds.
func (e *Env) Count(tb testing.TB) uint64 {
	tb.Helper()
	s, err := e.JS.Stream(context.Background(), e.Stream)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return info.State.Msgs
}

// CountOf counts the stream's messages of the given event types. It fails
// (and does not fail the test) while the server is down.
func (e *Env) CountOf(types ...events.Type) (int, error) {
	ctx := context.Background()
	s, err := e.JS.Stream(ctx, e.Stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(e.Prefix+".>"))
	if err != nil {
		return 0, err
	}
	n := 0
	for subj, c := range info.State.Subjects {
		for _, typ := range types {
			if strings.HasSuffix(subj, "."+typ.SubjectSuffix()) {
				n += int(c)
			}
		}
	}
	return n, nil
}

// Publish publishes evs and fails the test unless JetStream stored them all.
func (e *Env) Publish(tb testing.TB, evs ...events.Event) {
	tb.Helper()
	if err := e.Publisher.Publish(context.Background(), evs); err != nil {
		tb.Fatal(err)
	}
}

// SetDuplicates sets the stream's duplicate window, for tests that need
// copies kept out only briefly.
func (e *Env) SetDuplicates(tb testing.TB, d time.Duration) {
	tb.Helper()
	ctx := context.Background()
	s, err := e.JS.Stream(ctx, e.Stream)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Duplicates = d
	if _, err := e.JS.UpdateStream(ctx, cfg); err != nil {
		tb.Fatal(err)
	}
}
