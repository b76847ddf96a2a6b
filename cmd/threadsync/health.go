package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/pollers"
)

// health serves /healthz (the process is alive), /readyz (NATS connected,
// Redis answering, no shared service being waited for), /status (every
// account's state) and /metrics (Prometheus). Nothing it serves holds a
// secret.
type health struct {
	nc      *nats.Conn
	rdb     *redis.Client
	engine  *pollers.Engine
	metrics http.Handler // nil: no /metrics
	pprof   bool         // serve /debug/pprof/
}

type readiness struct {
	Ready      bool              `json:"ready"`
	WaitingFor []string          `json:"waiting_for,omitempty"`
	Checks     map[string]string `json:"checks"`
}

func (h *health) ready(ctx context.Context) readiness {
	r := readiness{Ready: true, Checks: map[string]string{}}
	fail := func(what, why string) {
		r.Ready = false
		r.WaitingFor = append(r.WaitingFor, what)
		r.Checks[what] = why
	}
	if h.nc.IsConnected() {
		r.Checks["nats"] = "connected"
	} else {
		fail("nats", "not connected: "+h.nc.Status().String())
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := h.rdb.Ping(ctx).Err(); err != nil {
		fail("redis", err.Error())
	} else {
		r.Checks["redis"] = "ok"
	}
	for dep, since := range h.engine.Waiting() {
		fail(dep, "unreachable since "+since.Format(time.RFC3339))
	}
	return r
}

func (h *health) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rd := h.ready(r.Context())
		if !rd.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		writeJSON(w, rd)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, h.engine.Status())
	})
	if h.metrics != nil {
		mux.Handle("GET /metrics", h.metrics)
	}
	if h.pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// serveHealth serves the endpoints on addr until ctx is done.
func serveHealth(ctx context.Context, addr string, h *health, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("health endpoints listening", "addr", ln.Addr().String())
	srv := &http.Server{Handler: h.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health endpoints stopped", "error", err)
		}
	}()
	return nil
}
