package events_test

import (
	"context"
	"log"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/threadsync/threadsync/events"
)

// Publishing a page of events: Send returns at once, so the next page can
// be prepared while JetStream acknowledges this one; Wait says whether
// every event was stored (the engine commits a page only then).
func ExamplePublisher_Send() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	pub, err := events.NewPublisher(nc, events.PublisherConfig{})
	if err != nil {
		log.Fatal(err)
	}
	o := events.Origin{Prefix: "inbox", Provider: "mirakl", Account: "shop-2001"}
	since := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	page := []events.Event{
		events.NewThreadCreated(o, events.Thread{ID: "t-1", CreatedAt: since}),
		events.NewMessageReceived(o, "t-1", events.Message{ID: "m-1", CreatedAt: since, Direction: events.Inbound}),
		events.NewReplyNeeded(o, "t-1", since, "m-1"),
	}
	if err := pub.Send(context.Background(), page).Wait(context.Background()); err != nil {
		log.Fatal(err)
	}
}

// A consumer on watermill: a Router reads the stream through a durable
// consumer, retries a failing handler and sets aside what keeps failing.
// This is the README's snippet.
func ExampleNewSubscriber() {
	ctx := context.Background()
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	pub, err := events.NewPublisher(nc, events.PublisherConfig{})
	if err != nil {
		log.Fatal(err)
	}
	logger := watermill.NewStdLogger(false, false)
	handle := func(m *message.Message) error {
		env, err := events.ParseEnvelope(m.Payload)
		if err != nil {
			return err
		}
		log.Printf("%s on %s: %s", env.Type, env.Subject, env.ID)
		return nil
	}

	sub, _ := events.NewSubscriber(js, events.SubscriberConfig{Durable: "alerts"})
	router, _ := message.NewRouter(message.RouterConfig{}, logger)
	poison, _ := middleware.PoisonQueue(pub.Watermill(), "poison.alerts") // a stream of its own
	router.AddMiddleware(poison, middleware.Retry{MaxRetries: 3, InitialInterval: time.Second}.Middleware)
	router.AddConsumerHandler("page-on-call", "inbox.*.*.reply.needed", sub, handle)
	if err := router.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
