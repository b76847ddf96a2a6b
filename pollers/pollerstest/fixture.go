package pollerstest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
)

// World is what a test of the engine runs in, outside the conformance
// suite: a checkpoint store on the test Redis under a prefix of its own, a
// JetStream of its own, and a buffer for the engines' logs.
type World struct {
	tb      testing.TB
	Store   *checkpoint.Store
	Redis   *redis.Client
	JS      *eventstest.Env
	Logs    *Buffer
	replica func() *checkpoint.Store
}

// NewWorld starts a world that ends with the test.
func NewWorld(tb testing.TB) *World {
	tb.Helper()
	replica, rdb := checkpointtest.Replicas(tb)
	return &World{tb: tb, Store: replica(), Redis: rdb, JS: eventstest.Start(tb), Logs: &Buffer{}, replica: replica}
}

// Replica is another store on the world's Redis and prefix: another
// worker's view of the same checkpoints and leases.
func (w *World) Replica() *checkpoint.Store { return w.replica() }

// factories are the five providers' pollers, by name.
func factories() map[string]pollers.Factory {
	m := map[string]pollers.Factory{}
	for _, h := range Harnesses() {
		m[h.Provider()] = h.Factory()
	}
	return m
}

// Config is cfg with what it leaves unset given by the world: its store,
// its JetStream's publisher, a logger writing to Logs and the pollers of
// the five providers.
func (w *World) Config(cfg pollers.Config) pollers.Config {
	if cfg.Store == nil {
		cfg.Store = w.Store
	}
	if cfg.Publisher == nil {
		cfg.Publisher = w.JS.Publisher
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(w.Logs, nil))
	}
	if cfg.Providers == nil {
		cfg.Providers = factories()
	}
	return cfg
}

// Engine builds an engine of accts on the world's Config of cfg.
func (w *World) Engine(cfg pollers.Config, accts ...pollers.Account) *pollers.Engine {
	w.tb.Helper()
	e, err := pollers.New(w.Config(cfg), accts)
	if err != nil {
		w.tb.Fatal(err)
	}
	return e
}

// Run runs e until stop is called or the test ends; stop returns once Run
// has, and fails the test if Run failed. Calling it again does nothing.
func (w *World) Run(e *pollers.Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stopped := false
	stop = func() {
		w.tb.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			w.tb.Errorf("run: %v", err)
		}
	}
	w.tb.Cleanup(stop)
	return stop
}

// Until is Until showing the world's logs.
func (w *World) Until(what string, ok func() bool) {
	w.tb.Helper()
	Until(w.tb, what, ok, w.Logs)
}

// OpenThreads opens n threads on the account, each a customer's question,
// and returns their ids.
func OpenThreads(tb testing.TB, h Harness, a pollers.Account, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = h.AddThread(tb, a, fmt.Sprintf("question %d", i))
	}
	return ids
}

// Events is how many events a full sync with this outcome publishes.
func (e Expected) Events() int { return e.Created + e.Messages + e.Replies }

// Shop is a Mirakl simulator on a local test server with the shop
// MiraklShop, for tests that serve it through a handler of their own or
// drive the simulator beyond what Harness offers.
type Shop struct {
	*miraklsim.Server
	URL string // where it is served
	Key string // the shop's API key
}

// NewShop serves a simulator whose shop has threads seeded with perThread
// messages each, until the test ends. wrap, when not nil, is the handler
// served instead, given the simulator to pass requests on to.
func NewShop(tb testing.TB, threads, perThread int, wrap func(sim http.Handler) http.Handler) *Shop {
	s := &Shop{Server: miraklsim.New(miraklsim.Config{}), Key: Mirakl.Token()}
	s.AddShop(MiraklShop, s.Key)
	if threads > 0 {
		s.Fill(MiraklShop, threads, perThread)
	}
	var h http.Handler = s.Server
	if wrap != nil {
		h = wrap(s.Server)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Account is the account id reading the shop, with options beside its
// shop_id.
func (s *Shop) Account(id string, options map[string]string) pollers.Account {
	opts := map[string]string{"shop_id": MiraklShop}
	maps.Copy(opts, options)
	return pollers.Account{Provider: Mirakl.Name, ID: id, BaseURL: s.URL, Token: s.Key, Options: opts}
}
