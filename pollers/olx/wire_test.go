package olx

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

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestFlexID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`91234`: "91234", `"91234"`: "91234", `" 42 "`: "42", `"abc-1"`: "abc-1",
		`1e3`: "1000", `12.0`: "12", `null`: "", `-7`: "-7",
	} {
		var id api.ID
		if err := json.Unmarshal([]byte(in), &id); err != nil || string(id) != want {
			t.Errorf("%s: got %q, %v; want %q", in, id, err, want)
		}
	}
	for _, in := range []string{`1.5`, `true`, `{}`, `[1]`} {
		var id api.ID
		if err := json.Unmarshal([]byte(in), &id); err == nil {
			t.Errorf("%s: got %q, want an error", in, id)
		}
	}
}

func TestFlexInt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]api.Int{
		`4`: {N: 4, Known: true}, `"4"`: {N: 4, Known: true}, `4.0`: {N: 4, Known: true}, `0`: {N: 0, Known: true}, `null`: {},
	} {
		var n api.Int
		if err := json.Unmarshal([]byte(in), &n); err != nil || n != want {
			t.Errorf("%s: got %+v, %v; want %+v", in, n, err, want)
		}
	}
	for _, in := range []string{`"four"`, `4.5`, `false`, `[]`} {
		var n api.Int
		if err := json.Unmarshal([]byte(in), &n); err == nil {
			t.Errorf("%s: got %+v, want an error", in, n)
		}
	}
}

func TestListEnvelope(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"data": [{"id": 1}, {"id": "2"}]}`,
		`[{"id": 1}, {"id": 2}]`,
		`{"links": {"next": "x"}, "data": [{"id": 1}, {"id": 2}], "metadata": {"total": 2}}`,
	} {
		var l list[thread]
		if err := json.Unmarshal([]byte(in), &l); err != nil || len(l.Items) != 2 || l.Items[1].ID != "2" {
			t.Errorf("%s: %+v, %v", in, l.Items, err)
		}
	}
	for _, in := range []string{`{"data": []}`, `[]`} {
		var l list[thread]
		if err := json.Unmarshal([]byte(in), &l); err != nil || l.Items == nil || len(l.Items) != 0 {
			t.Errorf("%s: %#v, %v; want an empty, non-nil list", in, l.Items, err)
		}
	}
	for in, msg := range map[string]string{
		`{"data": 42, "results": "no"}`: "data is a JSON number",
		`{"data": {"id": 1}}`:           "data is a JSON object",
		`{"data": null}`:                "data is a JSON null",
		`{"items": []}`:                 "no data array",
		`"threads"`:                     "neither an array nor an object",
		`{"error": {"status": 400}}`:    "no data array",
	} {
		var l list[thread]
		if err := json.Unmarshal([]byte(in), &l); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want one saying %q", in, err, msg)
		}
	}
}

func TestThreadItem(t *testing.T) {
	t.Parallel()
	waw := zone(t, "Europe/Warsaw")
	var th thread
	err := json.Unmarshal([]byte(`{"id": 91234, "advert_id": 880011, "interlocutor_id": "5501", "total_count": 4,
		"unread_count": 1, "created_at": "2024-03-02 14:05:11", "is_favourite": false, "new_field": {"x": 1}}`), &th)
	if err != nil {
		t.Fatal(err)
	}
	it, err := th.item(waw)
	if err != nil {
		t.Fatal(err)
	}
	want := events.Thread{
		ID: "91234", CreatedAt: time.Date(2024, 3, 2, 13, 5, 11, 0, time.UTC),
		Reference:    events.Reference{Type: "advert", ID: "880011"},
		Participants: []events.Participant{{ID: "5501", Role: "interlocutor"}},
	}
	if !it.Thread.CreatedAt.Equal(want.CreatedAt) || it.Thread.ID != want.ID || it.Thread.Reference != want.Reference ||
		len(it.Thread.Participants) != 1 || it.Thread.Participants[0] != want.Participants[0] {
		t.Fatalf("thread %+v, want %+v", it.Thread, want)
	}
	if it.Version != "t4u1" || it.Ref != "4" {
		t.Fatalf("version %q ref %q", it.Version, it.Ref)
	}

	// Every counter that moves changes the version; nothing else does.
	versions := map[string]string{}
	for _, body := range []string{
		`{"id": 1, "total_count": 4, "unread_count": 1}`,
		`{"id": 1, "total_count": 5, "unread_count": 1}`,
		`{"id": 1, "total_count": 5, "unread_count": 0}`,
		`{"id": 1, "total_count": 5}`,
	} {
		var th thread
		if err := json.Unmarshal([]byte(body), &th); err != nil {
			t.Fatal(err)
		}
		it, err := th.item(time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := versions[it.Version]; dup {
			t.Errorf("%s and %s share version %q", prev, body, it.Version)
		}
		versions[it.Version] = body
	}
	var same1, same2 thread
	_ = json.Unmarshal([]byte(`{"id": 1, "total_count": 4, "unread_count": 1, "is_favourite": true, "advert_id": 3}`), &same1)
	_ = json.Unmarshal([]byte(`{"id": "1", "total_count": "4", "unread_count": 1, "is_favourite": false}`), &same2)
	i1, _ := same1.item(time.UTC)
	i2, _ := same2.item(time.UTC)
	if i1.Version != i2.Version {
		t.Errorf("favourite or advert changed the version: %q vs %q", i1.Version, i2.Version)
	}

	// A list item without advert_id, interlocutor or created_at is still
	// a thread; ThreadCreated takes its time from the first message.
	var bare thread
	_ = json.Unmarshal([]byte(`{"id": 7}`), &bare)
	it, err = bare.item(time.UTC)
	if err != nil || it.Thread.Reference != (events.Reference{}) || it.Thread.Participants == nil || !it.Thread.CreatedAt.IsZero() {
		t.Fatalf("bare item %+v, %v", it, err)
	}

	for body, msg := range map[string]string{
		`{"total_count": 1}`:                  "thread without id",
		`{"id": 1, "created_at": "30/01/18"}`: "created_at",
	} {
		var th thread
		_ = json.Unmarshal([]byte(body), &th)
		if _, err := th.item(time.UTC); !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want ErrMalformed naming %q", body, err, msg)
		}
	}
}

func TestThreadTimes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		zone, in string
		want     time.Time
	}{
		{"UTC", "2018-01-30 08:26:36", time.Date(2018, 1, 30, 8, 26, 36, 0, time.UTC)},
		{"Europe/Warsaw", "2018-01-30 08:26:36", time.Date(2018, 1, 30, 7, 26, 36, 0, time.UTC)},
		{"Europe/Warsaw", "2018-07-30 08:26:36", time.Date(2018, 7, 30, 6, 26, 36, 0, time.UTC)},
		{"Europe/Bucharest", "2018-01-30 08:26:36", time.Date(2018, 1, 30, 6, 26, 36, 0, time.UTC)},
		{"Europe/Warsaw", "2026-05-14T18:00:00+03:00", time.Date(2026, 5, 14, 15, 0, 0, 0, time.UTC)},
		{"Europe/Warsaw", "2024-03-02T14:05:11Z", time.Date(2024, 3, 2, 14, 5, 11, 0, time.UTC)},
		// The repeated hour of the autumn change reads as its first pass.
		{"Europe/Warsaw", "2024-10-27 02:15:00", time.Date(2024, 10, 27, 0, 15, 0, 0, time.UTC)},
	} {
		var th thread
		_ = json.Unmarshal([]byte(`{"id": 1, "created_at": "`+c.in+`"}`), &th)
		it, err := th.item(zone(t, c.zone))
		if err != nil || !it.Thread.CreatedAt.Equal(c.want) || it.Thread.CreatedAt.Location() != time.UTC {
			t.Errorf("%s in %s: %v, %v; want %v", c.in, c.zone, it.Thread.CreatedAt, err, c.want)
		}
	}
}

func decodeMessages(t *testing.T, body string) []message {
	t.Helper()
	var l list[message]
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func TestMapMessages(t *testing.T) {
	t.Parallel()
	// Newest first, one listed twice, ids of both types, two in the same
	// second, an unknown type.
	ms := decodeMessages(t, `{"data": [
		{"id": 700011, "thread_id": 91234, "created_at": "2024-03-03 08:01:57", "type": "system", "text": "Reminder"},
		{"id": "700010", "thread_id": 91234, "created_at": "2024-03-03 08:01:57", "type": "received", "text": "Can you ship it?",
		 "is_read": false, "attachments": [{"name": "photo.jpg", "url": "https://example.invalid/a/photo.jpg"}],
		 "cvs": [{"name": "cv.pdf", "url": "https://example.invalid/cv.pdf"}]},
		{"id": 700005, "thread_id": 91234, "created_at": "2024-03-02 15:20:03", "type": "sent", "text": "Yes.", "cvs": {"odd": true}},
		{"id": 700001, "thread_id": 91234, "created_at": "2024-03-02 14:05:11", "type": "received", "text": "Is it still available?"},
		{"id": 700005, "thread_id": 91234, "created_at": "2024-03-02 15:20:03", "type": "sent", "text": "Yes."}
	]}`)
	from := events.Participant{ID: "5501", Role: "interlocutor"}
	got, err := mapMessages(ms, zone(t, "Europe/Warsaw"), from)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id  string
		at  time.Time
		dir events.Direction
		who events.Participant
	}{
		{"700001", time.Date(2024, 3, 2, 13, 5, 11, 0, time.UTC), events.Inbound, from},
		{"700005", time.Date(2024, 3, 2, 14, 20, 3, 0, time.UTC), events.Outbound, events.Participant{Role: "owner"}},
		{"700010", time.Date(2024, 3, 3, 7, 1, 57, 0, time.UTC), events.Inbound, from},
		{"700011", time.Date(2024, 3, 3, 7, 1, 57, 0, time.UTC), events.Inbound, events.Participant{Role: "system"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || !g.CreatedAt.Equal(w.at) || g.Direction != w.dir || g.Sender != w.who || g.Attachments == nil {
			t.Errorf("message %d: %+v, want %+v", i, g, w)
		}
	}
	if a := got[2].Attachments; len(a) != 2 || a[0] != (events.Attachment{ID: "https://example.invalid/a/photo.jpg", Name: "photo.jpg"}) || a[1].Name != "cv.pdf" {
		t.Errorf("attachments %+v", a)
	}

	for body, msg := range map[string]string{
		`[{"id": 1, "created_at": "2024-03-02 14:05:11"}, {"created_at": "2024-03-02 14:05:11"}]`: "message 1 without id",
		`[{"id": 9, "created_at": "yesterday"}]`:                                                  "message 9: created_at",
	} {
		_, err := mapMessages(decodeMessages(t, body), time.UTC, from)
		if !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want ErrMalformed naming %q", body, err, msg)
		}
	}
}

func TestDirection(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]events.Direction{
		"sent": events.Outbound, "SENT": events.Outbound, "received": events.Inbound,
		"": events.Inbound, "system": events.Inbound, "auto_reply": events.Inbound,
	} {
		if got := direction(typ); got != want {
			t.Errorf("type %q: %s, want %s", typ, got, want)
		}
	}
}

// In Europe/Warsaw, 2024-10-27 02:00-03:00 happens twice. Messages written
// across it keep their order, and read the same on every poll.
func TestRepeatedHourKeepsOrder(t *testing.T) {
	t.Parallel()
	ms := decodeMessages(t, `[
		{"id": 4, "created_at": "2024-10-27 02:10:00", "type": "received"},
		{"id": 1, "created_at": "2024-10-27 01:50:00", "type": "received"},
		{"id": 3, "created_at": "2024-10-27 02:50:00", "type": "sent"},
		{"id": 2, "created_at": "2024-10-27 02:20:00", "type": "received"},
		{"id": 5, "created_at": "2024-10-27 03:05:00", "type": "sent"}
	]`)
	want := []time.Time{
		time.Date(2024, 10, 26, 23, 50, 0, 0, time.UTC), // 01:50 CEST
		time.Date(2024, 10, 27, 0, 20, 0, 0, time.UTC),  // 02:20 CEST, first pass
		time.Date(2024, 10, 27, 0, 50, 0, 0, time.UTC),  // 02:50 CEST
		time.Date(2024, 10, 27, 1, 10, 0, 0, time.UTC),  // 02:10 CET, second pass
		time.Date(2024, 10, 27, 2, 5, 0, 0, time.UTC),   // 03:05 CET
	}
	waw := zone(t, "Europe/Warsaw")
	for range 2 {
		got, err := mapMessages(ms, waw, events.Participant{})
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			if got[i].ID != string(rune('1'+i)) || !got[i].CreatedAt.Equal(w) {
				t.Errorf("message %d: %s at %v, want %d at %v", i, got[i].ID, got[i].CreatedAt, i+1, w)
			}
		}
	}
	// The spring change skips an hour: a time inside it is still read.
	at, err := localTime("2024-03-31 02:30:00", waw, time.Time{})
	if err != nil || at.IsZero() {
		t.Fatalf("time in the skipped hour: %v, %v", at, err)
	}
}

func TestCmpID(t *testing.T) {
	t.Parallel()
	for i, c := range []struct {
		a, b string
		want int
	}{{"9", "10", -1}, {"10", "9", 1}, {"009", "9", 0}, {"100", "a", -1}, {"a", "b", -1}, {"b", "100", 1}} {
		if got := api.CompareIDs(c.a, c.b); got != c.want {
			t.Errorf("%d: CompareIDs(%q, %q) = %d, want %d", i, c.a, c.b, got, c.want)
		}
	}
}
