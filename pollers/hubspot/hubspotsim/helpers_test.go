package hubspotsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

const (
	portalA = "24000001"
	tokA    = "pat-na1-aaaaaaaa-0000-0000-0000-000000000001"
	portalB = "24000002"
	tokB    = "pat-na1-bbbbbbbb-0000-0000-0000-000000000002"

	threadsURL = "/conversations/v3/conversations/threads"
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
	sim.AddAccount(portalA, tokA)
	sim.AddAccount(portalB, tokB)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{t: t, sim: sim, srv: srv, clock: clock}
}

// get sends a GET with the token (none when empty) and returns the
// response and its body.
func (f *fixture) get(tok, path string) (*http.Response, []byte) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, body
}

type jThread struct {
	ID                             string
	InboxID                        string
	Status                         string
	Archived                       bool
	AssociatedContactID            string
	AssignedTo                     *string
	CreatedAt                      string
	ClosedAt                       *string
	LatestMessageTimestamp         *string
	LatestMessageSentTimestamp     *string
	LatestMessageReceivedTimestamp *string
	ThreadAssociations             *struct{ AssociatedTicketID string }
}

type jMessage struct {
	Type, ID, CreatedAt, Direction, Text, TruncationStatus string
	ConversationsThreadID                                  string
	Senders                                                []struct{ ActorID, Name string }
}

type jPage[T any] struct {
	Results []T
	Paging  *struct {
		Next struct{ After, Link string }
	}
}

func (p *jPage[T]) after() string {
	if p.Paging == nil {
		return ""
	}
	return p.Paging.Next.After
}

func listPage[T any](f *fixture, tok, path string) jPage[T] {
	f.t.Helper()
	resp, body := f.get(tok, path)
	wantStatus(f.t, resp, body, http.StatusOK)
	var p jPage[T]
	if err := json.Unmarshal(body, &p); err != nil {
		f.t.Fatalf("%s: %v\n%s", path, err, body)
	}
	return p
}

// walk follows after from the query (which must not have one) and returns
// every thread id in order.
func (f *fixture) walk(tok, query string) []string {
	f.t.Helper()
	var ids []string
	after := ""
	for range 1000 {
		q := query
		if after != "" {
			q += "&after=" + after
		}
		p := listPage[jThread](f, tok, threadsURL+"?"+q)
		for _, th := range p.Results {
			ids = append(ids, th.ID)
		}
		if after = p.after(); after == "" {
			return ids
		}
	}
	f.t.Fatal("walk does not end")
	return nil
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
}

// wantError checks HubSpot's error body and returns it.
func wantError(t *testing.T, body []byte, category string) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Status != "error" || e.Message == "" || e.CorrelationID == "" || e.Category != category {
		t.Fatalf("error body %s, want status error, a message, a correlationId and category %s (%v)", body, category, err)
	}
	if strings.Contains(string(body), "pat-na1") {
		t.Fatalf("error body echoes a token: %s", body)
	}
	return e
}

func threadIDs(ths []ThreadInfo) []string {
	out := make([]string, len(ths))
	for i, th := range ths {
		out[i] = th.ID
	}
	return out
}
