package selfcommunitysim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

const (
	userA  = "alice_owner"
	tokenA = "tok-a-0123456789abcdef"
	userB  = "bob_owner"
	tokenB = "tok-b-0123456789abcdef"
)

// t0 is the fixtures' epoch: all explicit times are offsets from it.
var t0 = time.Date(2024, 3, 5, 17, 20, 2, 100_000, time.UTC)

type fixture struct {
	t     *testing.T
	sim   *Server
	srv   *httptest.Server
	clock *sim.Clock
	idA   string
	idB   string
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
	f := &fixture{t: t, sim: sim, clock: clock}
	f.idA = sim.AddAccount(userA, tokenA)
	f.idB = sim.AddAccount(userB, tokenB)
	f.srv = httptest.NewServer(sim)
	t.Cleanup(f.srv.Close)
	return f
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) request(method, token, pathQuery string, body io.Reader) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+pathQuery, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, pathQuery, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) get(token, pathQuery string) response {
	f.t.Helper()
	return f.request(http.MethodGet, token, pathQuery, nil)
}

// The client-side view of the wire, decoded loosely.
type jsonUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

type jsonSnippet struct {
	ID            int64     `json:"id"`
	Headline      string    `json:"headline"`
	Sender        *jsonUser `json:"sender"`
	Receiver      *jsonUser `json:"receiver"`
	CreatedAt     string    `json:"created_at"`
	LastMessageAt string    `json:"last_message_at"`
	ThreadStatus  string    `json:"thread_status"`
}

type jsonMessage struct {
	ID        int64     `json:"id"`
	ThreadID  int64     `json:"thread_id"`
	Message   string    `json:"message"`
	Sender    *jsonUser `json:"sender"`
	Receiver  *jsonUser `json:"receiver"`
	CreatedAt string    `json:"created_at"`
	Status    string    `json:"status"`
}

type jsonPage[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

func decodePage[T any](t *testing.T, r response) jsonPage[T] {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var p jsonPage[T]
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	if p.Results == nil {
		t.Fatalf("no results array in %s", r.body)
	}
	return p
}

// walkSnippets follows next links from the first page and returns the ids.
func (f *fixture) walkSnippets(token string, limit int) []string {
	f.t.Helper()
	var ids []string
	next := f.srv.URL + "/api/v2/pm/?limit=" + strconv.Itoa(limit)
	for next != "" {
		rel := strings.TrimPrefix(next, f.srv.URL)
		p := decodePage[jsonSnippet](f.t, f.get(token, rel))
		for _, s := range p.Results {
			ids = append(ids, strconv.FormatInt(s.ID, 10))
		}
		next = ""
		if p.Next != nil {
			next = *p.Next
		}
	}
	return ids
}

func (f *fixture) threadQuery(token string, q url.Values) jsonPage[jsonMessage] {
	f.t.Helper()
	return decodePage[jsonMessage](f.t, f.get(token, "/api/v2/pm/?"+q.Encode()))
}

func msgIDs(ms []jsonMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = strconv.FormatInt(m.ID, 10)
	}
	return out
}

func detail(t *testing.T, r response) string {
	t.Helper()
	var d struct {
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(r.body, &d); err != nil || d.Detail == "" {
		t.Fatalf("body %s is not {\"detail\": ...}", r.body)
	}
	return d.Detail
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
