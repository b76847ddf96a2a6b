package selfcommunity

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

func TestIDsAreStringsWhateverTheWire(t *testing.T) {
	var v struct {
		A, B, C, D api.ID
		N, M, O    api.Int
	}
	err := json.Unmarshal([]byte(`{"A": 311, "B": "311", "C": null, "D": "a\u00e9", "N": 12, "M": "34", "O": null}`), &v)
	if err != nil || v.A != "311" || v.B != "311" || v.C != "" || v.D != "aé" || v.N.N != 12 || v.M.N != 34 || v.O.N != 0 {
		t.Fatalf("%+v %v", v, err)
	}
	for _, in := range []string{`{"A": true}`, `{"A": {}}`, `{"A": [1]}`, `{"N": "x"}`, `{"N": 1.5}`, `{"N": false}`} {
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("%s decoded", in)
		}
	}
}

func decodeSnippet(t *testing.T, s string) *snippet {
	t.Helper()
	var sn snippet
	if err := json.Unmarshal([]byte(s), &sn); err != nil {
		t.Fatal(err)
	}
	return &sn
}

const snippet311 = `{"id": 311, "headline": "See you tomorrow then", "message": "See you tomorrow then",
 "sender": {"id": 42, "username": "maria", "real_name": "Maria Rossi", "avatar": null},
 "receiver": {"id": "7", "username": "shop_owner", "avatar": null},
 "created_at": "2024-02-01T09:00:12.100200+01:00",
 "last_message_at": "2024-03-05T18:22:40.551000+01:00", "thread_status": "new", "group": 5}`

func TestSnippetMapping(t *testing.T) {
	it, err := decodeSnippet(t, snippet311).item("7", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCreated := time.Date(2024, 2, 1, 8, 0, 12, 100200000, time.UTC)
	wantLast := time.Date(2024, 3, 5, 17, 22, 40, 551000000, time.UTC)
	if it.Thread.ID != "311" || !it.Thread.CreatedAt.Equal(wantCreated) || it.Thread.CreatedAt.Location() != time.UTC ||
		!it.UpdatedAt.Equal(wantLast) || !it.LastMessageAt.Equal(wantLast) || it.ReplyNeededSince != nil {
		t.Fatalf("item %+v", it)
	}
	wantParts := []events.Participant{{ID: "7", Name: "shop_owner", Role: "owner"}, {ID: "42", Name: "Maria Rossi", Role: "member"}}
	if !slices.Equal(it.Thread.Participants, wantParts) || it.Thread.Reference != (events.Reference{Type: "user", ID: "42"}) || it.Thread.Topic != "" {
		t.Fatalf("thread %+v", it.Thread)
	}
	// The owner as sender: the counterpart is still the other one.
	sn := decodeSnippet(t, snippet311)
	sn.Sender, sn.Receiver = sn.Receiver, sn.Sender
	it2, _ := sn.item("7", nil)
	if !slices.Equal(it2.Thread.Participants, wantParts) || it2.Version != it.Version {
		t.Fatalf("swapped: %+v %q", it2.Thread, it2.Version)
	}
}

func TestSnippetVersion(t *testing.T) {
	base := decodeSnippet(t, snippet311)
	v0, _ := base.item("7", nil)
	same := func(mod func(*snippet)) bool {
		s := decodeSnippet(t, snippet311)
		mod(s)
		it, err := s.item("7", nil)
		if err != nil {
			t.Fatal(err)
		}
		return it.Version == v0.Version
	}
	// Changes that mean a new message or a new reply state.
	if same(func(s *snippet) { s.LastMessageAt = "2024-03-05T18:22:40.551001+01:00" }) {
		t.Fatal("a later last_message_at keeps the version")
	}
	if same(func(s *snippet) { s.Headline = "Another message" }) {
		t.Fatal("a new headline keeps the version")
	}
	// Changes that do not: reading the thread, another way to write the
	// same instant.
	if !same(func(s *snippet) { s.ThreadStatus = "seen" }) {
		t.Fatal("thread_status changes the version: reading a thread would refetch it")
	}
	if !same(func(s *snippet) { s.LastMessageAt = "2024-03-05T17:22:40.551Z" }) {
		t.Fatal("the same instant in another offset changes the version")
	}
}

func TestSnippetWithoutLastMessageAtOrZone(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	sn := decodeSnippet(t, `{"id": "9", "created_at": "2024-07-01 10:00:00", "sender": null, "receiver": {"id": 7}}`)
	it, err := sn.item("7", rome)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 7, 1, 8, 0, 0, 0, time.UTC); !it.Thread.CreatedAt.Equal(want) || !it.UpdatedAt.Equal(want) || !it.LastMessageAt.IsZero() {
		t.Fatalf("zone-less time in Europe/Rome: %+v", it)
	}
	if len(it.Thread.Participants) != 1 || it.Thread.Reference != (events.Reference{}) {
		t.Fatalf("no counterpart: %+v", it.Thread)
	}
}

func TestSnippetErrors(t *testing.T) {
	for _, s := range []string{
		`{"created_at": "2024-02-01T09:00:12+01:00"}`,
		`{"id": 1, "created_at": "yesterday"}`,
		`{"id": 1, "created_at": "2024-02-01T09:00:12+01:00", "last_message_at": "soon"}`,
	} {
		if _, err := decodeSnippet(t, s).item("7", nil); !errors.Is(err, pollers.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", s, err)
		}
	}
}

func decodeMessage(t *testing.T, s string) *message {
	t.Helper()
	var m message
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestMessageMapping(t *testing.T) {
	in := decodeMessage(t, `{"id": 9001, "thread_id": 311, "message": "Is the meetup still on?",
	  "sender": {"id": 42, "username": "maria"}, "receiver": {"id": 7, "username": "shop_owner"},
	  "created_at": "2024-03-05T18:20:02.000100+01:00", "status": "created", "file": null}`)
	m, keep, err := in.message("311", "7", nil)
	if err != nil || !keep {
		t.Fatal(err, keep)
	}
	if m.ID != "9001" || m.Direction != events.Inbound || m.Text != "Is the meetup still on?" ||
		!m.CreatedAt.Equal(time.Date(2024, 3, 5, 17, 20, 2, 100000, time.UTC)) ||
		m.Sender != (events.Participant{ID: "42", Name: "maria", Role: "member"}) || len(m.Attachments) != 0 {
		t.Fatalf("inbound %+v", m)
	}
	// The owner's message, ids as strings, an attachment, a status the
	// documentation does not list.
	out := decodeMessage(t, `{"id": "9010", "thread_id": "311", "message": "",
	  "sender": {"id": "7", "username": "shop_owner", "real_name": "Shop"},
	  "created_at": "2024-03-05T17:30:00Z", "status": "flagged",
	  "file": {"uuid": "3fa85f64-5717", "filename": "map.png", "filesize": "2048", "mimetype": "image/png"}}`)
	m, keep, err = out.message("311", "7", nil)
	if err != nil || !keep || m.Direction != events.Outbound || m.Sender.Role != "owner" || m.Sender.Name != "Shop" ||
		!slices.Equal(m.Attachments, []events.Attachment{{ID: "3fa85f64-5717", Name: "map.png", Size: 2048}}) {
		t.Fatalf("outbound %+v %v %v", m, keep, err)
	}
	// A user deleted for good may come back as null: not the owner.
	m, _, err = decodeMessage(t, `{"id": 1, "sender": null, "created_at": "2024-03-05T17:30:00Z"}`).message("311", "7", nil)
	if err != nil || m.Direction != events.Inbound || m.Sender.Role != "member" {
		t.Fatalf("null sender: %+v %v", m, err)
	}
	for _, status := range []string{"deleted", "hidden"} {
		if _, keep, _ := decodeMessage(t, `{"id": 1, "status": "`+status+`", "created_at": "2024-03-05T17:30:00Z"}`).message("311", "7", nil); keep {
			t.Errorf("a %s message is kept", status)
		}
	}
}

func TestMessageErrors(t *testing.T) {
	for _, s := range []string{
		`{"created_at": "2024-03-05T17:30:00Z"}`,
		`{"id": 1, "created_at": "03/05/2024"}`,
		`{"id": 1, "thread_id": 312, "created_at": "2024-03-05T17:30:00Z"}`,
	} {
		if _, _, err := decodeMessage(t, s).message("311", "7", nil); !errors.Is(err, pollers.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", s, err)
		}
	}
}

func TestThrottleWait(t *testing.T) {
	for body, want := range map[string]time.Duration{
		`{"detail":"Request was throttled. Expected available in 3 seconds."}`:   3 * time.Second,
		`{"detail":"Request was throttled. Expected available in 1 second."}`:    time.Second,
		`{"detail":"Request was throttled. Expected available in 0.5 seconds."}`: 500 * time.Millisecond,
		`{"detail":"Request was throttled."}`:                                    0,
		``:                                                                       0,
	} {
		if got := throttleWait(body); got != want {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	base, _ := url.Parse("https://Community.example.com")
	for raw, want := range map[string]bool{
		"https://community.example.com/api/v2/pm/?offset=4":       true,
		"https://community.example.com:443/api/v2/pm/":            true,
		"https://user:pw@community.example.com/api/v2/pm/":        true,
		"http://community.example.com/api/v2/pm/":                 false,
		"https://community.example.com:8443/api/v2/pm/":           false,
		"https://community.example.com.evil.test/api/v2/pm/":      false,
		"https://evil.test/api/v2/pm/?next=community.example.com": false,
	} {
		u, _ := url.Parse(raw)
		if got := sameOrigin(u, base); got != want {
			t.Errorf("%s: %v, want %v", raw, got, want)
		}
	}
}

func TestCmpID(t *testing.T) {
	ids := []string{"10", "9", "0011", "abc", "100"}
	slices.SortFunc(ids, api.CompareIDs)
	if got := strings.Join(ids, ","); got != "9,10,0011,100,abc" {
		t.Fatalf("sorted %s", got)
	}
}
