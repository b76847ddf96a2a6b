package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestReadiness follows /readyz through a Redis outage and a NATS outage.
func TestReadiness(t *testing.T) {
	t.Parallel()
	red := checkpointtest.StartServer(t)
	rdb := red.Client(t)
	w := pollerstest.NewWorld(t)
	js := w.JS
	disconnected, reconnected := make(chan struct{}, 1), make(chan struct{}, 1)
	nc, err := nats.Connect(js.URL, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { disconnected <- struct{}{} }),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, _ := checkpoint.New(rdb, "ready")
	engine := w.Engine(pollers.Config{Store: store, Providers: map[string]pollers.Factory{"x": nil}})
	srv := httptest.NewServer((&health{nc: nc, rdb: rdb, engine: engine}).handler())
	defer srv.Close()
	ready := func() (int, readiness) {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r readiness
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, r
	}
	if code, r := ready(); code != http.StatusOK || !r.Ready {
		t.Fatalf("all up: %d %+v", code, r)
	}
	red.Stop()
	if code, r := ready(); code != http.StatusServiceUnavailable || !slices.Contains(r.WaitingFor, "redis") {
		t.Fatalf("Redis down: %d %+v", code, r)
	}
	red.Start()
	js.Stop()
	<-disconnected
	if code, r := ready(); code != http.StatusServiceUnavailable || !slices.Contains(r.WaitingFor, "nats") {
		t.Fatalf("NATS down: %d %+v", code, r)
	}
	js.Start(t)
	<-reconnected
	if code, r := ready(); code != http.StatusOK {
		t.Fatalf("both back: %d %+v", code, r)
	}
	if resp, err := http.Get(srv.URL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
}

// The runtime's profiles are served only when THREADSYNC_PPROF asks.
func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		srv := httptest.NewServer((&health{pprof: on}).handler())
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1"} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; resp.StatusCode != want {
				t.Errorf("pprof %v: GET %s: %d, want %d", on, path, resp.StatusCode, want)
			}
		}
		srv.Close()
	}
}
