package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-envconfig"

	"github.com/threadsync/threadsync/events/eventstest"
)

// alertmanagerBinary finds Alertmanager on PATH; the tests run the real one.
func alertmanagerBinary(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Alertmanager on PATH (prometheus-alertmanager or alertmanager): run deploy/local/ensure-alertmanager.sh, which installs it (make test does)")
	return ""
}

// amServer is a private Alertmanager process on a loopback port.
type amServer struct {
	t    testing.TB
	bin  string
	dir  string
	Addr string // 127.0.0.1:port
	URL  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

const amConfig = `route:
  receiver: "null"
receivers:
  - name: "null"
`

// startAlertmanager starts an Alertmanager on a free port, trying another
// port when the one picked is taken meanwhile, and kills it when the test ends.
func startAlertmanager(t testing.TB) *amServer {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(amConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &amServer{t: t, bin: alertmanagerBinary(t), dir: dir}
	t.Cleanup(a.Stop)
	var err error
	for range 5 {
		a.Addr = freeAddr(t)
		a.URL = "http://" + a.Addr
		if err = a.start(); err == nil {
			return a
		}
		t.Logf("alertmanager on %s: %v; trying another port", a.Addr, err)
	}
	t.Fatalf("alertmanager would not start: %v", err)
	return nil
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// start runs Alertmanager on a.Addr and returns once it reports ready,
// or with an error when it exits first (a port taken, say).
func (a *amServer) start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	logf, err := os.OpenFile(filepath.Join(a.dir, "alertmanager.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(a.bin,
		"--config.file="+filepath.Join(a.dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(a.dir, "data"),
		"--web.listen-address="+a.Addr,
		"--cluster.listen-address=", // no clustering: no gossip port, ready at once
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("exited before it was ready: %s", a.logTail())
		default:
		}
		if resp, err := http.Get(a.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				a.cmd, a.exited = cmd, exited
				return nil
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("not ready within 30s: %s", a.logTail())
		}
		time.Sleep(20 * time.Millisecond) // polling interval of the readiness probe
	}
}

// Stop kills Alertmanager and waits for it to exit.
func (a *amServer) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Kill()
	<-a.exited
	a.cmd = nil
}

func (a *amServer) logTail() string {
	b, _ := os.ReadFile(filepath.Join(a.dir, "alertmanager.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// amAlert is an alert as GET /api/v2/alerts returns it.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager holds that are not resolved.
func (a *amServer) Alerts() ([]amAlert, error) {
	resp, err := http.Get(a.URL + "/api/v2/alerts")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v2/alerts: %s: %s", resp.Status, b)
	}
	var out []amAlert
	return out, json.Unmarshal(b, &out)
}

// Find returns the unresolved alert named alertname of thread, if any.
func (a *amServer) Find(alertname, thread string) (amAlert, bool, error) {
	all, err := a.Alerts()
	if err != nil {
		return amAlert{}, false, err
	}
	for _, x := range all {
		if x.Labels["alertname"] == alertname && x.Labels["thread_id"] == thread && x.EndsAt.After(time.Now()) {
			return x, true, nil
		}
	}
	return amAlert{}, false, nil
}

// proxy forwards TCP connections to an upstream address that can change,
// and closes them when the upstream refuses: it stands for an
// Alertmanager's address across an outage, so the tests need not reuse a
// port that another test's server may have taken meanwhile.
type proxy struct {
	l   net.Listener
	URL string

	mu       sync.Mutex
	upstream string
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

func newProxy(t testing.TB, upstream string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, URL: "http://" + l.Addr().String(), upstream: upstream, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	t.Cleanup(p.close)
	return p
}

// SetUpstream sends the connections opened from now on to addr.
func (p *proxy) SetUpstream(addr string) {
	p.mu.Lock()
	p.upstream = addr
	p.mu.Unlock()
}

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up := p.upstream
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(c, up) })
	}
}

func (p *proxy) pipe(c net.Conn, up string) {
	defer func() {
		c.Close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	u, err := net.Dial("tcp", up)
	if err != nil {
		return // upstream down: the client sees its connection closed
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done // either side gone: close both, which ends the other copy
	c.Close()
	u.Close()
	<-done
}

func (p *proxy) close() {
	p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		if state != "" {
			last = state
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still not %s; last seen: %s", within, what, last)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// waitActive waits until Alertmanager holds the alert active and returns it.
func waitActive(t testing.TB, am *amServer, alertname, thread string) amAlert {
	t.Helper()
	var got amAlert
	eventually(t, 30*time.Second, alertname+" of "+thread+" active", func() (bool, string) {
		a, ok, err := am.Find(alertname, thread)
		if err != nil {
			return false, err.Error()
		}
		if ok && a.Status.State == "active" {
			got = a
			return true, ""
		}
		return false, fmt.Sprintf("present %v, %+v", ok, a)
	})
	return got
}

// waitGone waits until Alertmanager lists the alert no more: resolved.
func waitGone(t testing.TB, am *amServer, alertname, thread string) {
	t.Helper()
	eventually(t, 30*time.Second, alertname+" of "+thread+" resolved", func() (bool, string) {
		a, ok, err := am.Find(alertname, thread)
		if err != nil {
			return false, err.Error()
		}
		return !ok, fmt.Sprintf("%+v", a)
	})
}

// testLog forwards the service's log to the test's, until the test ends:
// NATS callbacks may still log from their own goroutines afterwards.
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func newTestLog(t testing.TB) *testLog {
	w := &testLog{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return w
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// runningService is one slaalerts run by a test.
type runningService struct {
	t      testing.TB
	cancel context.CancelFunc
	done   chan error
}

// startAll starts a JetStream, an Alertmanager and slaalerts between them,
// with vars on top of startService's settings.
func startAll(t testing.TB, vars map[string]string) (*eventstest.Env, *amServer) {
	t.Helper()
	env := eventstest.Start(t)
	am := startAlertmanager(t)
	startService(t, env, am.URL, vars)
	return env, am
}

// startService runs slaalerts (its run, configured through LoadConfig) on
// env and am until Stop or the end of the test.
func startService(t testing.TB, env *eventstest.Env, amURL string, vars map[string]string) *runningService {
	t.Helper()
	all := map[string]string{
		"NATS_URL":                   env.URL,
		"THREADSYNC_STREAM":          env.Stream,
		"THREADSYNC_SUBJECT_PREFIX":  env.Prefix,
		"SLAALERTS_ALERTMANAGER_URL": amURL,
		"SLAALERTS_LOG_LEVEL":        "debug",
	}
	for k, v := range vars {
		all[k] = v
	}
	cfg, err := LoadConfig(context.Background(), envconfig.MapLookuper(all))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningService{t: t, cancel: cancel, done: make(chan error, 1)}
	log := cfg.Logger(newTestLog(t))
	go func() { s.done <- run(ctx, cfg, log) }()
	t.Cleanup(s.Stop)
	// The durable consumer exists once the rebuild is done and the Router
	// subscribed: events published from now on reach the handler.
	eventually(t, 30*time.Second, "the durable consumer created", func() (bool, string) {
		_, ok := consumer(t, env, cfg.Durable)
		return ok, ""
	})
	return s
}

// Stop stops the service and checks that it stopped cleanly.
func (s *runningService) Stop() {
	s.t.Helper()
	if s.done == nil {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("run: %v", err)
		}
	case <-time.After(60 * time.Second):
		s.t.Error("slaalerts did not stop within 60s")
	}
	s.done = nil
}

// consumer returns the info of the service's durable consumer.
func consumer(t testing.TB, env *eventstest.Env, durable string) (*jetstream.ConsumerInfo, bool) {
	t.Helper()
	ctx := context.Background()
	s, err := env.JS.Stream(ctx, env.Stream)
	if err != nil {
		t.Fatal(err)
	}
	list := s.ListConsumers(ctx)
	var found *jetstream.ConsumerInfo
	for info := range list.Info() {
		if strings.HasPrefix(info.Name, durable+"_") {
			found = info
		}
	}
	if err := list.Err(); err != nil {
		t.Fatal(err)
	}
	return found, found != nil
}

// waitSettled waits until the durable consumer has acknowledged every
// message its filter matches so far, and has none in flight.
func waitSettled(t testing.TB, env *eventstest.Env, durable string) {
	t.Helper()
	ctx := context.Background()
	s, err := env.JS.Stream(ctx, env.Stream)
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.GetLastMsgForSubject(ctx, env.Prefix+".*.*.reply.*")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, fmt.Sprintf("every message up to %d acknowledged", last.Sequence), func() (bool, string) {
		c, ok := consumer(t, env, durable)
		if !ok {
			return false, "no consumer yet"
		}
		return c.AckFloor.Stream >= last.Sequence && c.NumAckPending == 0,
			fmt.Sprintf("ack floor %d, ack pending %d, redelivered %d", c.AckFloor.Stream, c.NumAckPending, c.NumRedelivered)
	})
}
