package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
)

// liveTraffic runs every account's live traffic at one rate, which
// PUT /_admin/traffic changes while providersim serves: a benchmark seeds
// and syncs a quiet inbox first, then turns the traffic on.
type liveTraffic struct {
	parent context.Context
	log    *slog.Logger
	runs   []func(ctx context.Context, perSecond float64) error

	mu     sync.Mutex
	rate   float64
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// set stops the traffic running and starts it again at perSecond per
// account; 0 leaves it stopped.
func (l *liveTraffic) set(perSecond float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		l.cancel()
		l.wg.Wait()
		l.cancel = nil
	}
	l.rate = perSecond
	if perSecond <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(l.parent)
	l.cancel = cancel
	for _, run := range l.runs {
		l.wg.Go(func() {
			if err := run(ctx, perSecond); err != nil && ctx.Err() == nil {
				l.log.Error("live traffic stopped", "err", err)
			}
		})
	}
}

// stop ends the traffic and waits for it.
func (l *liveTraffic) stop() { l.set(0) }

// handler serves PUT /_admin/traffic {"rate": 0.5} (messages a second per
// account; 0 stops) and GET /_admin/traffic.
func (l *liveTraffic) handler() http.Handler {
	mux := http.NewServeMux()
	change(mux, "PUT /_admin/traffic", "traffic", func(in struct {
		Rate *float64 `json:"rate"`
	}) error {
		if in.Rate == nil || *in.Rate < 0 || math.IsInf(*in.Rate, 0) || math.IsNaN(*in.Rate) {
			return fmt.Errorf("bad traffic: rate must be a number of messages a second per account, 0 or more")
		}
		l.set(*in.Rate)
		l.log.Info("live traffic set", "rate_per_account", *in.Rate)
		return nil
	})
	mux.HandleFunc("GET /_admin/traffic", func(w http.ResponseWriter, _ *http.Request) {
		l.mu.Lock()
		rate := l.rate
		l.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]float64{"rate": rate})
	})
	return mux
}
