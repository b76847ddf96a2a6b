package partizap

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

func moscowLoc(t *testing.T) *time.Location {
	t.Helper()
	loc, err := api.LoadZone("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	loc := moscowLoc(t)
	want := time.Date(2024, 3, 5, 15, 22, 40, 0, time.UTC)
	for _, s := range []string{
		"2024-03-05T18:22:40+03:00",   // RFC 3339 with Moscow's offset (the doc's example)
		"2024-03-05T15:22:40Z",        // UTC
		"2024-03-05T15:22:40.000000Z", // Laravel's default serialization
		"2024-03-05 18:22:40",         // zone-less: Moscow wall clock
		"2024-03-05T18:22:40",         // zone-less with T
		"2024-03-05T18:22:40+0300",    // PHP DATE_ISO8601
		"2024-03-05 18:22:40+03:00",   // space instead of T
		" 2024-03-05T18:22:40+03:00 ", // stray spaces
	} {
		got, err := parseTime(s, loc)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v; want %v UTC", s, got, err, want)
		}
	}
	// Another zone for zone-less times.
	got, err := parseTime("2024-03-05 15:22:40", time.UTC)
	if err != nil || !got.Equal(want) {
		t.Errorf("zone-less in UTC: %v %v", got, err)
	}
	for _, s := range []string{"", "yesterday", "1709652160", "05.03.2024 18:22"} {
		if _, err := parseTime(s, loc); !errors.Is(err, pollers.ErrMalformed) {
			t.Errorf("parseTime(%q): %v, want ErrMalformed", s, err)
		}
	}
}

func TestFlexScalars(t *testing.T) {
	t.Parallel()
	// Ids are api.ID, texts api.Text (a number or boolean kept as sent).
	var v struct {
		A, B, C, D api.ID
		E, F       api.Text
		G, H, I, J api.Bool
	}
	err := json.Unmarshal([]byte(`{"A": 5012, "B": "5012", "C": null, "D": 5012.0, "E": 1.5, "F": true,
		"G": true, "H": 0, "I": "true", "J": "1"}`), &v)
	if err != nil {
		t.Fatal(err)
	}
	if v.A != "5012" || v.B != "5012" || v.C != "" || v.D != "5012" || v.E != "1.5" || v.F != "true" {
		t.Fatalf("ids and texts: %+v", v)
	}
	if !v.G || v.H || !v.I || !v.J {
		t.Fatalf("booleans: %+v", v)
	}
	for _, bad := range []string{`{"A": {}}`, `{"A": []}`, `{"G": "maybe"}`, `{"G": 2}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

func decodeConv(t *testing.T, s string) conversation {
	t.Helper()
	var c conversation
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// docConversation is partizap.md §3.5's example, trimmed.
const docConversation = `{
  "id": 5012, "product_id": 88120,
  "product": {"id": 88120, "title": "BMW E46 front bumper", "price": 2500, "steering": "left",
    "seller": {"id": 5, "display_name": "BMW Parts Store", "rating": "4.85"}},
  "participants": [
    {"id": 5, "display_name": "BMW Parts Store", "avatar_url": null, "rating": "4.85"},
    {"id": 901, "display_name": "Ivan", "avatar_url": null, "rating": "0.00"}
  ],
  "last_message": {"id": 77003, "conversation_id": 5012, "sender_id": 901, "text": "Is it original?",
    "image_url": null, "is_read": false, "is_delivered": true, "created_at": "2024-03-05T18:22:40+03:00"},
  "unread_count": 1,
  "created_at": "2024-03-05T18:20:00+03:00",
  "updated_at": "2024-03-05T18:22:40+03:00"
}`

func TestItem(t *testing.T) {
	t.Parallel()
	mp := mapper{userID: "5", loc: moscowLoc(t)}
	c := decodeConv(t, docConversation)
	it, err := mp.item(&c)
	if err != nil {
		t.Fatal(err)
	}
	th := it.Thread
	if th.ID != "5012" || th.Topic != "BMW E46 front bumper" || th.Reference != (events.Reference{Type: "product", ID: "88120"}) {
		t.Fatalf("thread %+v", th)
	}
	if !th.CreatedAt.Equal(time.Date(2024, 3, 5, 15, 20, 0, 0, time.UTC)) {
		t.Fatalf("created_at %v", th.CreatedAt)
	}
	want := []events.Participant{{ID: "5", Name: "BMW Parts Store", Role: "vendor"}, {ID: "901", Name: "Ivan", Role: "buyer"}}
	if len(th.Participants) != 2 || th.Participants[0] != want[0] || th.Participants[1] != want[1] {
		t.Fatalf("participants %+v", th.Participants)
	}
	if it.Version != "m:77003" || !it.LastMessageAt.Equal(time.Date(2024, 3, 5, 15, 22, 40, 0, time.UTC)) || !it.UpdatedAt.Equal(it.LastMessageAt) {
		t.Fatalf("item %+v", it)
	}
	if it.Messages != nil || it.ReplyNeededSince != nil {
		t.Fatal("the list must not claim messages or a reply state")
	}
}

// TestVersion: the version moves with the newest message and only with it.
func TestVersion(t *testing.T) {
	t.Parallel()
	mp := mapper{userID: "5", loc: moscowLoc(t)}
	version := func(s string) string {
		c := decodeConv(t, s)
		it, err := mp.item(&c)
		if err != nil {
			t.Fatal(err)
		}
		return it.Version
	}
	base := version(docConversation)
	read := strings.Replace(strings.Replace(docConversation, `"unread_count": 1`, `"unread_count": 0`, 1),
		`"updated_at": "2024-03-05T18:22:40+03:00"`, `"updated_at": "2024-03-05T19:00:00+03:00"`, 1)
	if v := version(read); v != base {
		t.Fatalf("reading the conversation changed the version: %q -> %q", base, v)
	}
	answered := strings.Replace(docConversation, `"id": 77003`, `"id": 77004`, 1)
	if v := version(answered); v == base {
		t.Fatal("a new last message kept the version")
	}
	stringIDs := strings.Replace(docConversation, `"id": 77003`, `"id": "77003"`, 1)
	if v := version(stringIDs); v != base {
		t.Fatalf("an id as a string changed the version: %q", v)
	}
	empty := `{"id": 1, "created_at": "2024-03-05T18:20:00+03:00", "updated_at": "2024-03-05T18:20:00+03:00", "last_message": null}`
	emptyLater := strings.ReplaceAll(empty, `"updated_at": "2024-03-05T18:20:00+03:00"`, `"updated_at": "2024-03-05T18:21:00+03:00"`)
	if a, b := version(empty), version(emptyLater); a == b || a == base {
		t.Fatalf("empty conversation versions %q, %q", a, b)
	}
}

func TestItemMalformed(t *testing.T) {
	t.Parallel()
	mp := mapper{userID: "5", loc: moscowLoc(t)}
	for name, s := range map[string]string{
		"no id":            `{"created_at": "2024-03-05T18:20:00+03:00"}`,
		"no created_at":    `{"id": 1}`,
		"bad updated_at":   `{"id": 1, "created_at": "2024-03-05T18:20:00+03:00", "updated_at": "soon"}`,
		"bad last_message": `{"id": 1, "created_at": "2024-03-05T18:20:00+03:00", "last_message": {"id": 2, "created_at": "x"}}`,
	} {
		c := decodeConv(t, s)
		if _, err := mp.item(&c); !errors.Is(err, pollers.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestMessageMapping(t *testing.T) {
	t.Parallel()
	mp := mapper{userID: "5", loc: moscowLoc(t)}
	th := &events.Thread{ID: "5012", Participants: []events.Participant{{ID: "5", Name: "BMW Parts Store", Role: "vendor"}, {ID: "901", Name: "Ivan", Role: "buyer"}}}
	decode := func(s string) message {
		var m message
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	in := decode(`{"id": 77003, "conversation_id": 5012, "sender_id": 901, "text": "Is it original?", "image_url": null, "created_at": "2024-03-05 18:22:40"}`)
	m, err := mp.message(&in, th)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "77003" || m.Direction != events.Inbound || m.Sender != (events.Participant{ID: "901", Name: "Ivan", Role: "buyer"}) ||
		m.Text != "Is it original?" || len(m.Attachments) != 0 || m.Attachments == nil ||
		!m.CreatedAt.Equal(time.Date(2024, 3, 5, 15, 22, 40, 0, time.UTC)) {
		t.Fatalf("inbound message %+v", m)
	}
	out := decode(`{"id": "77004", "conversation_id": "5012", "sender_id": "5", "text": null,
		"image_url": "https://s3.partizap.ru/chat/5012/a.jpg?sig=1", "created_at": "2024-03-05T18:25:00+03:00"}`)
	m, err = mp.message(&out, th)
	if err != nil {
		t.Fatal(err)
	}
	if m.Direction != events.Outbound || m.Sender.Role != "vendor" || m.Sender.Name != "BMW Parts Store" || m.Text != "" ||
		len(m.Attachments) != 1 || m.Attachments[0].ID != "https://s3.partizap.ru/chat/5012/a.jpg?sig=1" || m.Attachments[0].Name != "a.jpg" {
		t.Fatalf("outbound image message %+v", m)
	}
	// A sender the list does not name, or none at all (a system notice),
	// is the other side.
	sys := decode(`{"id": 77005, "conversation_id": 5012, "text": "Order placed", "created_at": "2024-03-05T18:26:00+03:00"}`)
	if m, err = mp.message(&sys, th); err != nil || m.Direction != events.Inbound || m.Sender.ID != "" {
		t.Fatalf("system message %+v %v", m, err)
	}
	for name, s := range map[string]string{
		"no id":              `{"sender_id": 5, "created_at": "2024-03-05T18:26:00+03:00"}`,
		"bad time":           `{"id": 1, "sender_id": 5, "created_at": "tuesday"}`,
		"other conversation": `{"id": 1, "conversation_id": 4000, "sender_id": 5, "created_at": "2024-03-05T18:26:00+03:00"}`,
	} {
		bad := decode(s)
		if _, err := mp.message(&bad, th); !errors.Is(err, pollers.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestMessageOrder(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 3, 5, 15, 0, 0, 0, time.UTC)
	// Same second: id order, numerically (9 before 10).
	a := events.Message{ID: "10", CreatedAt: at}
	b := events.Message{ID: "9", CreatedAt: at}
	c := events.Message{ID: "1", CreatedAt: at.Add(time.Second)}
	if byTimeThenID(b, a) >= 0 || byTimeThenID(a, c) >= 0 || byTimeThenID(c, b) <= 0 {
		t.Fatal("byTimeThenID")
	}
	if api.CompareIDs("a", "b") >= 0 || api.CompareIDs("10", "9") <= 0 {
		t.Fatal("CompareIDs")
	}
}
