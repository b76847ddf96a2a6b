package partizapsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

const (
	vendorA  = 5
	sessionA = "sess-a-0123456789"
	vendorB  = 6
	sessionB = "sess-b-0123456789"
)

// t0 is the fixtures' epoch: all explicit times are offsets from it.
var t0 = time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	sim   *Server
	srv   *httptest.Server
	clock *sim.Clock
}

// newFixture serves a simulator with vendors A and B on a fake clock set at
// t0 + 1h, so explicit times around t0 are in the past.
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	clock := sim.NewClock(t0.Add(time.Hour))
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	sim := New(cfg)
	sim.AddVendor(vendorA, sessionA)
	sim.AddVendor(vendorB, sessionB)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{t: t, sim: sim, srv: srv, clock: clock}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the session cookie (none when session is "").
func (f *fixture) do(method, session, path string, body io.Reader, header map[string]string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "PARTIZAP_SESSION", Value: session}) // after any other Cookie header
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
	return response{resp.StatusCode, resp.Header, b}
}

func (f *fixture) get(session, path string) response {
	f.t.Helper()
	return f.do(http.MethodGet, session, path, nil, nil)
}

// wire types, as a client would decode them.
type wireUser struct {
	ID          json.RawMessage `json:"id"`
	DisplayName string          `json:"display_name"`
	AvatarURL   *string         `json:"avatar_url"`
	Rating      string          `json:"rating"`
	CreatedAt   string          `json:"created_at"`
}

type wireMessage struct {
	ID             json.RawMessage `json:"id"`
	ConversationID json.RawMessage `json:"conversation_id"`
	SenderID       json.RawMessage `json:"sender_id"`
	Text           string          `json:"text"`
	ImageURL       *string         `json:"image_url"`
	IsRead         bool            `json:"is_read"`
	IsDelivered    bool            `json:"is_delivered"`
	CreatedAt      string          `json:"created_at"`
	Conversation   *struct {
		ID        json.RawMessage `json:"id"`
		Companion struct {
			ID   json.RawMessage `json:"id"`
			Name string          `json:"name"`
		} `json:"companion"`
		Product struct {
			ID    json.RawMessage `json:"id"`
			Title string          `json:"title"`
		} `json:"product"`
	} `json:"conversation"`
}

type wireConv struct {
	ID        json.RawMessage `json:"id"`
	ProductID json.RawMessage `json:"product_id"`
	Product   struct {
		ID     json.RawMessage   `json:"id"`
		Title  string            `json:"title"`
		Price  int               `json:"price"`
		Images []json.RawMessage `json:"images"`
		Seller wireUser          `json:"seller"`
	} `json:"product"`
	Participants []wireUser   `json:"participants"`
	LastMessage  *wireMessage `json:"last_message"`
	UnreadCount  int          `json:"unread_count"`
	CreatedAt    string       `json:"created_at"`
	UpdatedAt    string       `json:"updated_at"`
}

type wireMeta struct {
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

type listPage[T any] struct {
	Data []T      `json:"data"`
	Meta wireMeta `json:"meta"`
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if r.status != http.StatusOK && r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

// idOf reads a JSON id, number or string.
func idOf(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	return strings.Trim(string(raw), `"`)
}

// walk lists every conversation, following the cursor, and returns the ids
// in list order.
func (f *fixture) walk(session, limit string) []string {
	f.t.Helper()
	var ids []string
	q := url.Values{}
	if limit != "" {
		q.Set("limit", limit)
	}
	for range 100000 {
		p := decode[listPage[wireConv]](f.t, f.get(session, "/vendor/conversations?"+q.Encode()))
		for _, c := range p.Data {
			ids = append(ids, idOf(f.t, c.ID))
		}
		if !p.Meta.HasMore {
			if p.Meta.NextCursor != nil {
				f.t.Fatalf("last page with a next_cursor %q", *p.Meta.NextCursor)
			}
			return ids
		}
		q.Set("cursor", *p.Meta.NextCursor)
	}
	f.t.Fatal("walk does not end")
	return nil
}

type errorBody struct {
	Message string              `json:"message"`
	Errors  map[string][]string `json:"errors"`
}
