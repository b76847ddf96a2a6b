package partizapsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

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

type errorBody struct {
	Message string              `json:"message"`
	Errors  map[string][]string `json:"errors"`
}

// The accounts A and B of target and the fixtures: a key and its
// credential.
const (
	vendorA, sessionA = 5, "sess-a-0123456789"
	vendorB, sessionB = 6, "sess-b-0123456789"
)

// target is the Partizap simulator for the conformance suite: the session
// cookie, conversations newest first by keyset cursor, and Laravel's
// error bodies.
var target = simtest.Target[*Server, Config]{
	Lists:        []simtest.List{{Name: "conversations", Page: conversations, Reverse: true, Once: true}},
	Auth:         simtest.Cookie("PARTIZAP_SESSION"),
	New:          New,
	Now:          func(c *Config) *func() time.Time { return &c.Now },
	Limited:      Config{RequestsPerSecond: 1, Burst: 1},
	Kit:          func(s *Server) *sim.Kit { return s.Kit },
	A:            simtest.Account{Key: strconv.Itoa(vendorA), Token: sessionA},
	B:            simtest.Account{Key: strconv.Itoa(vendorB), Token: sessionB},
	ListPath:     "/vendor/conversations",
	Messages:     EndpointMessages,
	MessagesPath: func(id string) string { return "/vendor/conversations/" + id + "/messages" },
	Pending:      simtest.Pending(registry, func(v *vendor) int { return v.pending.Len() }),
	Step:         simtest.Step(registry, (*Server).trafficStep),
	Mix:          map[string]int{actNewThread: 300, actBuyer: 700, actVendorAnswer: 450, actRead: 120},
	Refill:       time.Second,
	Empty:        `{"data":[],"meta":{"has_more":false,"next_cursor":null}}`,
	Refusal: func(r simtest.Response, limited bool) error {
		want := "Injected fault: " + strconv.Itoa(r.Status) + " " + http.StatusText(r.Status) + "."
		if limited {
			want = "Too Many Attempts."
		}
		if e, err := laravelError(r.Body); err != nil || e.Message != want || limited && r.Header.Get("X-RateLimit-Remaining") != "0" {
			return fmt.Errorf("not Laravel's %q (%v)", want, err)
		}
		return nil
	},
}

// registry is the simulator's registry of vendors, for the suite.
func registry(s *Server) *sim.Accounts[*vendor] { return &s.vendors }

// conversations is the page of up to limit conversations from the cursor.
func conversations(c simtest.Client, session, cursor string, limit int) ([]string, string, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var p listPage[wireConv]
	err := c.JSON(session, "/vendor/conversations?"+q.Encode(), &p)
	ids := simtest.IDs(p.Data, func(cv wireConv) string { return strings.Trim(string(cv.ID), `"`) })
	if p.Meta.HasMore != (p.Meta.NextCursor != nil) {
		return ids, "", errors.New("has_more and next_cursor disagree")
	}
	if !p.Meta.HasMore {
		return ids, "", err
	}
	return ids, *p.Meta.NextCursor, err
}

// laravelError decodes Laravel's error body, which has a message (and, for
// a 422, the errors of the fields).
func laravelError(body []byte) (errorBody, error) {
	return simtest.ErrorBody(body, `Laravel's {"message": ...}`, func(e errorBody) bool { return e.Message != "" })
}

// messagesPath is the path of the messages of the conversation id.
func messagesPath(id int64) string { return target.MessagesPath(strconv.FormatInt(id, 10)) }

// idOf reads a JSON id, number or string.
func idOf(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	return strings.Trim(string(raw), `"`)
}

// t0 is the fixtures' epoch: all explicit times are offsets from it.
var t0 = time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC)

// fixture serves a simulator with vendors A and B (see target) on a
// clock standing at t0 + 1h, so explicit times around t0 are in the past.
type fixture struct{ *simtest.Fixture[*Server] }

func newFixture(t *testing.T, cfg Config) *fixture {
	return &fixture{simtest.Serve(t, target, t0.Add(time.Hour), cfg)}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	simtest.Run(t, target)
}

func BenchmarkSimulator(b *testing.B) { simtest.Benchmark(b, target) }
