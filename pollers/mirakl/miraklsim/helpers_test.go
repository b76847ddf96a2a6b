package miraklsim

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

const (
	shopA = "2001"
	keyA  = "key-a-0123456789"
	shopB = "2002"
	keyB  = "key-b-0123456789"
)

// t0 is the fixtures' epoch: all explicit times are offsets from it.
var t0 = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	sim   *Server
	srv   *httptest.Server
	clock *sim.Clock
}

// newFixture serves a simulator with shops A and B on a fake clock set at
// t0 + 1h, so explicit times around t0 are in the past.
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	clock := sim.NewClock(t0.Add(time.Hour))
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	sim := New(cfg)
	sim.AddShop(shopA, keyA)
	sim.AddShop(shopB, keyB)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{t: t, sim: sim, srv: srv, clock: clock}
}

func (f *fixture) do(req *http.Request) (*http.Response, []byte) {
	f.t.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("reading %s: %v", req.URL, err)
	}
	return resp, body
}

// get sends GET path with key as the raw Authorization header ("" = none).
func (f *fixture) get(key, path string) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	return f.do(req)
}

// getOK is get that requires a 200 and decodes the body into v.
func (f *fixture) getOK(key, path string, v any) {
	f.t.Helper()
	resp, body := f.get(key, path)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET %s: status %d, body %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		f.t.Fatalf("GET %s: decoding %s: %v", path, body, err)
	}
}

// post sends an M12 request with message_input and optional files.
func (f *fixture) post(key, threadID string, input any, files map[string][]byte) (*http.Response, []byte) {
	f.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if input != nil {
		raw, ok := input.(string)
		if !ok {
			b, err := json.Marshal(input)
			if err != nil {
				f.t.Fatal(err)
			}
			raw = string(b)
		}
		if err := mw.WriteField("message_input", raw); err != nil {
			f.t.Fatal(err)
		}
	}
	for name, content := range files {
		w, err := mw.CreateFormFile("files", name)
		if err != nil {
			f.t.Fatal(err)
		}
		_, _ = w.Write(content)
	}
	if err := mw.Close(); err != nil {
		f.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/inbox/threads/"+threadID+"/message", &buf)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", key)
	return f.do(req)
}

type jParticipant struct {
	DisplayName string `json:"display_name"`
	ID          string `json:"id"`
	Type        string `json:"type"`
}

type jSender struct {
	DisplayName         string        `json:"display_name"`
	Type                string        `json:"type"`
	OrganizationDetails *jParticipant `json:"organization_details"`
}

type jMessage struct {
	ID          string         `json:"id"`
	DateCreated time.Time      `json:"date_created"`
	Body        string         `json:"body"`
	From        jSender        `json:"from"`
	To          []jParticipant `json:"to"`
	Attachments []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Size int64  `json:"size"`
	} `json:"attachments"`
}

type jThread struct {
	ID          string    `json:"id"`
	DateCreated time.Time `json:"date_created"`
	DateUpdated time.Time `json:"date_updated"`
	Topic       struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"topic"`
	Entities []struct {
		ID    string `json:"id"`
		Label string `json:"label"`
		Type  string `json:"type"`
	} `json:"entities"`
	AuthorizedParticipants []jParticipant `json:"authorized_participants"`
	CurrentParticipants    []jParticipant `json:"current_participants"`
	Metadata               struct {
		LastMessageDate      *time.Time `json:"last_message_date"`
		LastSender           *jSender   `json:"last_sender"`
		ShopReplyNeededSince *time.Time `json:"shop_reply_needed_since"`
		TotalCount           int        `json:"total_count"`
	} `json:"metadata"`
	Messages []jMessage `json:"messages"`
}

type jPage struct {
	Data []jThread `json:"data"`
	Next *string   `json:"next_page_token"`
	Prev *string   `json:"previous_page_token"`
}

// list fetches one M11 page.
func (f *fixture) list(key string, q url.Values) jPage {
	f.t.Helper()
	var p jPage
	f.getOK(key, "/api/inbox/threads?"+q.Encode(), &p)
	if p.Next != nil && *p.Next == "" {
		f.t.Fatal("next_page_token is present but empty; it must be omitted on the last page")
	}
	return p
}

// walk follows next_page_token from the first query to the last page and
// returns the pages. between, when set, runs after each page.
func (f *fixture) walk(key string, q url.Values, between func(page int, p jPage)) []jPage {
	f.t.Helper()
	var pages []jPage
	p := f.list(key, q)
	for {
		pages = append(pages, p)
		if between != nil {
			between(len(pages), p)
		}
		if p.Next == nil {
			return pages
		}
		if len(pages) > 10000 {
			f.t.Fatal("walk does not end")
		}
		p = f.list(key, url.Values{"page_token": {*p.Next}})
	}
}

func ids(pages []jPage) []string {
	var out []string
	for _, p := range pages {
		for _, th := range p.Data {
			out = append(out, th.ID)
		}
	}
	return out
}

// addThreads creates n threads in the shop with one customer message each,
// at t0 + i minutes, and returns their ids in creation order.
func addThreads(sim *Server, shopID string, n int) []string {
	out := make([]string, n)
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		out[i] = sim.AddThread(shopID, NewThread{At: at})
		sim.AddMessage(shopID, out[i], Customer, "hello", at)
	}
	return out
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, want, body)
	}
}

// wantErrorBody checks the Mirakl-style {"status","message"} error body.
func wantErrorBody(t *testing.T, body []byte, status int) {
	t.Helper()
	var e struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Status != status || e.Message == "" {
		t.Fatalf("error body %s, want {\"status\":%d,\"message\":...}", body, status)
	}
}
