package olxsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

const (
	acctA  = "seller-a"
	tokenA = "token-a-0123456789"
	acctB  = "seller-b"
	tokenB = "token-b-0123456789"
)

// t0 is the fixtures' epoch: all explicit times are offsets from it.
var t0 = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	sim   *Server
	srv   *httptest.Server
	clock *sim.Clock
}

// newFixture serves a simulator with accounts A and B on a fake clock set
// at t0 + 1h, so explicit times around t0 are in the past.
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	clock := sim.NewClock(t0.Add(time.Hour))
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	sim := New(cfg)
	sim.AddAccount(acctA, tokenA)
	sim.AddAccount(acctB, tokenB)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{t: t, sim: sim, srv: srv, clock: clock}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with OLX's headers for the token (none when empty);
// extra headers are "Name: value" strings, "Name:" removes one.
func (f *fixture) do(method, path, token, body string, extra ...string) response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Version", "2.0")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range extra {
		name, value, _ := strings.Cut(h, ":")
		if value = strings.TrimSpace(value); value == "" {
			req.Header.Del(name)
		} else {
			req.Header.Set(name, value)
		}
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) get(path, token string) response {
	f.t.Helper()
	return f.do(http.MethodGet, path, token, "")
}

// threads lists a page of GET /threads for the token.
func (f *fixture) threads(token, query string) []wireThread {
	f.t.Helper()
	r := f.get("/api/partner/threads"+query, token)
	if r.status != http.StatusOK {
		f.t.Fatalf("GET /threads%s: %d %s", query, r.status, r.body)
	}
	var env struct{ Data []wireThread }
	if err := json.Unmarshal(r.body, &env); err != nil || env.Data == nil {
		f.t.Fatalf("GET /threads%s: %v: %s", query, err, r.body)
	}
	return env.Data
}

func (f *fixture) messages(token, threadID, query string) []wireMessage {
	f.t.Helper()
	r := f.get("/api/partner/threads/"+threadID+"/messages"+query, token)
	if r.status != http.StatusOK {
		f.t.Fatalf("GET messages of %s%s: %d %s", threadID, query, r.status, r.body)
	}
	var env struct{ Data []wireMessage }
	if err := json.Unmarshal(r.body, &env); err != nil || env.Data == nil {
		f.t.Fatalf("GET messages of %s: %v: %s", threadID, err, r.body)
	}
	return env.Data
}

func ids(ts []wireThread) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// apiError decodes OLX's error envelope.
func apiError(t *testing.T, r response) errorDetail {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Status == 0 {
		t.Fatalf("not an OLX error body: %v: %s", err, r.body)
	}
	return e.Error
}

// getJSON is a GET with OLX's headers that reports instead of failing the
// test, for goroutines.
func getJSON(url, token string, out any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Version", "2.0")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
