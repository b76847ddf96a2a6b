package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
)

// TestRouterConsumesTheStream runs a watermill Router over the Subscriber:
// every ReplyNeeded reaches the handler, a first failure is retried, and a
// message that always fails goes to the poison queue, once.
func TestRouterConsumesTheStream(t *testing.T) {
	t.Parallel()
	env := eventstest.Start(t)
	ctx := context.Background()
	var evs []events.Event
	for i := range 6 {
		at := time.Date(2024, 3, 1, 10, i, 0, 0, time.UTC)
		evs = append(evs, events.NewMessageReceived(origin, "t", events.Message{ID: "m" + string(rune('a'+i)), CreatedAt: at}))
		evs = append(evs, events.NewReplyNeeded(origin, "t", at, "m"))
	}
	env.Publish(t, evs...)
	poisonID := evs[5].ID // the third ReplyNeeded always fails

	sub, err := events.NewSubscriber(env.JS, events.SubscriberConfig{Durable: "alerts"})
	if err != nil {
		t.Fatal(err)
	}
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	// The poison queue has a stream of its own: a copy keeps its message's
	// UUID, which in the event stream would be dropped as a duplicate.
	if _, err := env.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "POISON", Subjects: []string{"poison.>"}}); err != nil {
		t.Fatal(err)
	}
	poison, err := middleware.PoisonQueue(env.Publisher.Watermill(), "poison.alerts")
	if err != nil {
		t.Fatal(err)
	}
	router.AddMiddleware(poison, middleware.Retry{MaxRetries: 2, InitialInterval: time.Millisecond}.Middleware)

	var mu sync.Mutex
	attempts := map[string]int{}
	handled := map[string]int{}
	done := make(chan struct{})
	router.AddConsumerHandler("reply-needed", "inbox.*.*.reply.needed", sub, func(m *message.Message) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[m.UUID]++
		if m.Metadata.Get("subject") != "inbox.mirakl.shop-2001.reply.needed" {
			t.Errorf("message %s from subject %q", m.UUID, m.Metadata.Get("subject"))
		}
		if m.UUID == poisonID || attempts[m.UUID] == 1 {
			return errors.New("downstream unavailable")
		}
		handled[m.UUID]++
		if len(handled) == 5 {
			close(done)
		}
		return nil
	})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = router.Run(runCtx) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("handled %v", handled)
	}
	cancel()
	if err := router.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range handled {
		if n != 1 {
			t.Errorf("message %s handled %d times", id, n)
		}
	}
	if attempts[poisonID] != 3 {
		t.Errorf("the failing message was tried %d times, want 1 + 2 retries", attempts[poisonID])
	}
	// PoisonQueue publishes (and waits for the ack) before the handler
	// returns, so the message is there by now.
	ps, err := env.JS.Stream(ctx, "POISON")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ps.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		m, err := ps.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("poison queue message %d: %v", seq, err)
		}
		held = append(held, fmt.Sprintf("%s (reason %q, attempts %d)",
			m.Header.Get(jetstream.MsgIDHeader), m.Header.Get(middleware.ReasonForPoisonedKey), attempts[m.Header.Get(jetstream.MsgIDHeader)]))
	}
	want := fmt.Sprintf("%s (reason %q, attempts 3)", poisonID, "downstream unavailable")
	if len(held) != 1 || held[0] != want {
		t.Errorf("poison queue holds %q, want only %s", held, want)
	}
}

// TestSubscriberKeepsAnAckGivenAsItCloses acknowledges a message and closes
// the subscriber at once: the acknowledgement reaches the server, so the
// message is not delivered again.
func TestSubscriberKeepsAnAckGivenAsItCloses(t *testing.T) {
	t.Parallel()
	env := eventstest.Start(t)
	ctx := context.Background()
	ev := events.NewReplyNeeded(origin, "t", time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), "m")
	env.Publish(t, ev)
	for round := range 20 {
		durable := fmt.Sprintf("closing%d", round)
		sub, err := events.NewSubscriber(env.JS, events.SubscriberConfig{Durable: durable})
		if err != nil {
			t.Fatal(err)
		}
		subCtx, cancel := context.WithCancel(ctx)
		msgs, err := sub.Subscribe(subCtx, "inbox.>")
		if err != nil {
			t.Fatal(err)
		}
		m := <-msgs
		m.Ack()
		cancel()
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := env.JS.Stream(ctx, env.Stream)
		if err != nil {
			t.Fatal(err)
		}
		names := s.ListConsumers(ctx)
		var pending, floor uint64 = 1, 0
		for info := range names.Info() {
			if strings.HasPrefix(info.Name, durable+"_") {
				pending, floor = uint64(info.NumAckPending+info.NumRedelivered), info.AckFloor.Stream
			}
		}
		if pending != 0 || floor != 1 {
			t.Fatalf("round %d: after an ack and a close, %d pending or redelivered and ack floor %d, want 0 and 1", round, pending, floor)
		}
	}
}
