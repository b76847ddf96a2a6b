package pollers_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl"
)

// An engine for one Mirakl shop: it checkpoints in Redis, publishes to
// JetStream and polls every 30 seconds until SIGTERM, then finishes the
// page in hand, commits it and gives the account's lease up.
func ExampleNew() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	store, err := checkpoint.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}), "threadsync")
	if err != nil {
		log.Fatal(err)
	}
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	pub, err := events.NewPublisher(nc, events.PublisherConfig{})
	if err != nil {
		log.Fatal(err)
	}
	engine, err := pollers.New(pollers.Config{
		Store:        store,
		Publisher:    pub,
		Providers:    map[string]pollers.Factory{mirakl.Name: mirakl.New},
		PollInterval: 30 * time.Second,
	}, []pollers.Account{{
		Provider: mirakl.Name, ID: "shop-2001", BaseURL: "https://marketplace.example/api",
		Token: "the shop's API key", Options: map[string]string{"shop_id": "2001"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	if err := engine.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
