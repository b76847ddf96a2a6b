package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/internal/connect"
)

// retry is how a failed post is retried in place before the message is
// nacked (and at once delivered again): 250 ms, 500 ms, 1 s and 2 s of
// backoff per delivery. Only undecodable events are given up on; an
// Alertmanager outage holds the stream's later SLA events back until it
// ends, so none is lost.
var retry = middleware.Retry{
	MaxRetries:          4,
	InitialInterval:     250 * time.Millisecond,
	MaxInterval:         5 * time.Second,
	Multiplier:          2,
	RandomizationFactor: 0.2,
}

// service turns SLA events into Alertmanager alerts.
type service struct {
	cfg *Config
	log *slog.Logger
	am  *alertmanager

	// mu guards tr and is held across each post, so posts reach
	// Alertmanager in the order of the state they show: a re-send of the
	// active set cannot land after, and undo, the resolution that ended
	// one of its alerts.
	mu sync.Mutex
	tr *tracker
}

// topic is the subject filter of the consumer: one filter, so one
// consumer, so the stream's order holds between an episode's breach and
// its resolution.
func (c *Config) topic() string { return c.SubjectPrefix + ".*.*.reply.*" }

// poisonTopic is where undecodable events go. It is under the prefix, so
// in the event stream; its entries get message ids of their own.
func (c *Config) poisonTopic() string { return c.SubjectPrefix + ".slaalerts.poison" }

// run serves until ctx is cancelled: it connects to NATS, rebuilds the open
// episodes from the stream, posts their alerts, then consumes the stream
// through a watermill Router and re-posts the active alerts every
// cfg.Resend. It returns nil once ctx is cancelled.
func run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	s := &service{
		cfg: cfg, log: log,
		am: newAlertmanager(cfg.AlertmanagerURL, nil),
		tr: newTracker(cfg.Resend, cfg.ForgetAfter, cfg.GeneratorURL),
	}
	nc, err := connect.NATS{Name: "slaalerts"}.Connect(ctx, cfg.NATSURL, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	pub, err := events.NewPublisher(nc, events.PublisherConfig{})
	if err != nil {
		return err
	}
	js := pub.JetStream()
	if err := waitForStream(ctx, js, cfg.Stream, log); err != nil {
		return err
	}
	for {
		err := s.rebuild(ctx, js)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("rebuilding the open episodes from the stream failed; trying again", "stream", cfg.Stream, "error", err)
		if !sleep(ctx, 2*time.Second) {
			return ctx.Err()
		}
	}

	sub, err := events.NewSubscriber(js, events.SubscriberConfig{
		Stream: cfg.Stream, Durable: cfg.Durable,
		// Longer than one delivery's retries, posts included.
		AckWait: 2 * time.Minute,
	})
	if err != nil {
		return err
	}
	defer sub.Close()
	wlog := watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	// Run closes the router when ctx is cancelled. (Closing it after Run
	// failed to subscribe would wait out CloseTimeout for a handler that
	// never started.)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, wlog)
	if err != nil {
		return err
	}
	poison, err := middleware.PoisonQueueWithFilter(poisonPublisher{pub: pub.Watermill(), durable: cfg.Durable},
		cfg.poisonTopic(), func(err error) bool { return errors.Is(err, errUndecodable) })
	if err != nil {
		return err
	}
	// Retry outermost: the PoisonQueue inside it takes an undecodable
	// event off at its first attempt (nothing is left to retry once it is
	// published), and lets Alertmanager's failures through to be retried.
	// (Retry's ShouldRetry would do the same from outside, but it draws a
	// backoff step of its own per attempt, doubling the waits.)
	router.AddMiddleware(retry.Middleware, poison)
	router.AddConsumerHandler("slaalerts", cfg.topic(), sub, s.handle)

	var wg sync.WaitGroup
	resendCtx, stopResend := context.WithCancel(ctx)
	wg.Go(func() { s.resendLoop(resendCtx) })
	defer wg.Wait()
	defer stopResend()

	log.Info("slaalerts running", "stream", cfg.Stream, "topic", cfg.topic(), "durable", cfg.Durable,
		"alertmanager", redactURL(cfg.AlertmanagerURL), "resend", cfg.Resend)
	if err := router.Run(ctx); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	if ctx.Err() == nil {
		return errors.New("router stopped: its subscription ended")
	}
	log.Info("slaalerts stopped")
	return nil
}

// handle acts on one message of the stream. It returns an error wrapping
// errUndecodable for a message to poison, another error for a post to
// retry, and nil once Alertmanager has what the event means.
func (s *service) handle(m *message.Message) error {
	subject := m.Metadata.Get("subject")
	ev, ok, err := decodeEvent(subject, m.Payload)
	if err != nil {
		s.log.Error("undecodable event; sending it to the poison queue", "subject", subject, "msg_id", m.UUID,
			"poison_subject", s.cfg.poisonTopic(), "error", err)
		return err
	}
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	alerts := s.tr.apply(ev, time.Now(), false)
	if len(alerts) == 0 {
		s.log.Debug("event needs no alert", "event", ev.ID, "type", ev.Type)
		return nil
	}
	if err := s.am.post(m.Context(), alerts); err != nil {
		s.log.Warn("posting to Alertmanager failed; retrying", "event", ev.ID, "type", ev.Type, "error", err)
		return fmt.Errorf("event %s (%s): %w", ev.ID, ev.Type, err)
	}
	for _, a := range alerts {
		state := "firing"
		if !a.EndsAt.After(time.Now()) {
			state = "resolved"
		}
		s.log.Info("alert "+state, "alertname", a.Labels["alertname"], "provider", a.Labels["provider"],
			"account", a.Labels["account"], "thread_id", a.Labels["thread_id"], "needed_since", a.Labels["needed_since"],
			"event", ev.ID)
	}
	return nil
}

// rebuild reads every reply event in the stream with an ephemeral consumer
// and records the episodes they open and end, without posting: the durable
// consumer does not deliver again what it acknowledged before a restart,
// so this is how the alerts still active are known. Events it reads that
// the durable consumer has not acknowledged yet are applied once more
// later, which changes nothing.
func (s *service) rebuild(ctx context.Context, js jetstream.JetStream) error {
	start := time.Now()
	cons, err := js.CreateConsumer(ctx, s.cfg.Stream, jetstream.ConsumerConfig{
		FilterSubject:     s.cfg.topic(),
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	})
	if err != nil {
		return fmt.Errorf("create consumer on %s: %w", s.cfg.Stream, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = js.DeleteConsumer(dctx, s.cfg.Stream, cons.CachedInfo().Name)
	}()
	tr := newTracker(s.cfg.Resend, s.cfg.ForgetAfter, s.cfg.GeneratorURL)
	pending := cons.CachedInfo().NumPending
	var read, bad uint64
	for read < pending {
		batch, err := cons.Fetch(int(min(pending-read, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("read %s: %w", s.cfg.Stream, err)
		}
		got := 0
		now := time.Now()
		for m := range batch.Messages() {
			got++
			ev, ok, err := decodeEvent(m.Subject(), m.Data())
			if err != nil {
				bad++ // the durable consumer sends it to the poison queue
				continue
			}
			if ok {
				tr.apply(ev, now, true)
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("read %s: %w", s.cfg.Stream, err)
		}
		if got == 0 {
			return fmt.Errorf("read %s: %d of %d messages, then nothing", s.cfg.Stream, read, pending)
		}
		read += uint64(got)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	tr.prune(time.Now())
	open, resolved := tr.counts()
	s.mu.Lock()
	s.tr = tr
	s.mu.Unlock()
	s.log.Info("rebuilt the open episodes from the stream", "messages", read, "undecodable", bad,
		"open_episodes", open, "resolved_episodes_kept", resolved, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// resendLoop posts the active alerts now and every cfg.Resend until ctx
// is cancelled.
func (s *service) resendLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Resend)
	defer t.Stop()
	for {
		s.resend(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *service) resend(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.tr.prune(now)
	alerts := s.tr.active(now)
	if len(alerts) == 0 {
		return
	}
	if err := s.am.post(ctx, alerts); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("re-sending the active alerts failed", "alerts", len(alerts), "error", err)
		}
		return
	}
	s.log.Debug("re-sent the active alerts", "alerts", len(alerts))
}

// poisonPublisher publishes poisoned messages under ids of their own: in
// the event stream a copy under the original's Nats-Msg-Id would be
// dropped as a duplicate. The id derives from the original's, so a copy
// published twice (the ack of the original lost) is stored once.
type poisonPublisher struct {
	pub     message.Publisher
	durable string
}

func (p poisonPublisher) Publish(topic string, msgs ...*message.Message) error {
	out := make([]*message.Message, len(msgs))
	for i, m := range msgs {
		c := m.Copy()
		c.UUID = "slaalerts-poison/" + p.durable + "/" + m.UUID
		c.Metadata.Set("original_msg_id", m.UUID)
		delete(c.Metadata, jetstream.MsgIDHeader)
		c.SetContext(m.Context())
		out[i] = c
	}
	return p.pub.Publish(topic, out...)
}

func (p poisonPublisher) Close() error { return nil }

// waitForStream waits until the stream exists: threadsync creates it.
func waitForStream(ctx context.Context, js jetstream.JetStream, name string, log *slog.Logger) error {
	for {
		_, err := js.Stream(ctx, name)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Info("waiting for the stream", "stream", name, "error", err)
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
}

// redactURL hides the password a URL may carry.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<invalid URL>"
	}
	return u.Redacted()
}

// sleep waits for d and reports true, or for ctx and reports false.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
