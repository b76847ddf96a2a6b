package hubspot

import (
	"errors"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// docThreads is hubspot.md §3.5's thread page, the first id a number as
// older HubSpot APIs send them.
const docThreads = `{
  "results": [
    {"id": 7509711154, "inboxId": "147959634", "status": "OPEN", "spam": false, "archived": false,
     "associatedContactId": "12001", "assignedTo": "A-4242", "originalChannelId": "1000",
     "originalChannelAccountId": "240039", "createdAt": "2024-03-01T09:15:00Z",
     "latestMessageTimestamp": "2024-03-01T10:02:11Z",
     "latestMessageSentTimestamp": "2024-03-01T09:40:00Z",
     "latestMessageReceivedTimestamp": "2024-03-01T10:02:11Z",
     "someFieldHubSpotAddsLater": {"x": [1, 2]}},
    {"id": "7509711999", "inboxId": "147959634", "status": "CLOSED", "spam": false, "archived": false,
     "associatedContactId": 12007, "originalChannelId": "1002", "originalChannelAccountId": "240040",
     "createdAt": "2024-02-28T17:00:00.250Z", "closedAt": "2024-03-02T08:00:00Z",
     "latestMessageTimestamp": "2024-03-02T07:59:30.5Z",
     "latestMessageSentTimestamp": "2024-03-02T07:59:30.5Z",
     "latestMessageReceivedTimestamp": "2024-03-01T16:20:00Z",
     "threadAssociations": {"associatedTicketId": 880011}}
  ],
  "paging": {"next": {"after": "MjAyNC0wMy0wMlQwNzo1OTozMFo6NzUwOTcxMTk5OQ==", "link": "https://api.hubapi.com/x"}}
}`

func decode(t *testing.T, body string, out any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), out); err != nil {
		t.Fatal(err)
	}
}

func TestThreadMapping(t *testing.T) {
	var l threadList
	decode(t, docThreads, &l)
	if got := l.after(); got != "MjAyNC0wMy0wMlQwNzo1OTozMFo6NzUwOTcxMTk5OQ==" {
		t.Fatalf("after %q", got)
	}
	a, err := l.Results[0].item()
	if err != nil {
		t.Fatal(err)
	}
	if a.Thread.ID != "7509711154" {
		t.Fatalf("numeric id read as %q", a.Thread.ID)
	}
	if want := time.Date(2024, 3, 1, 9, 15, 0, 0, time.UTC); !a.Thread.CreatedAt.Equal(want) || a.Thread.CreatedAt.Location() != time.UTC {
		t.Fatalf("created %v", a.Thread.CreatedAt)
	}
	if want := time.Date(2024, 3, 1, 10, 2, 11, 0, time.UTC); !a.UpdatedAt.Equal(want) || !a.LastMessageAt.Equal(want) {
		t.Fatalf("updated %v, last message %v: both must be latestMessageTimestamp", a.UpdatedAt, a.LastMessageAt)
	}
	if a.Thread.Reference != (events.Reference{Type: "contact", ID: "12001"}) {
		t.Fatalf("reference %+v", a.Thread.Reference)
	}
	wantParts := []events.Participant{{ID: "12001", Role: "contact"}, {ID: "A-4242", Role: "agent"}}
	if len(a.Thread.Participants) != 2 || a.Thread.Participants[0] != wantParts[0] || a.Thread.Participants[1] != wantParts[1] {
		t.Fatalf("participants %+v", a.Thread.Participants)
	}
	if a.ReplyNeededSince != nil || a.Messages != nil {
		t.Fatalf("the list states no reply-needed and carries no messages: %+v", a)
	}

	b, err := l.Results[1].item()
	if err != nil {
		t.Fatal(err)
	}
	if b.Thread.Reference != (events.Reference{Type: "ticket", ID: "880011"}) {
		t.Fatalf("a thread with a ticket refers to it: %+v", b.Thread.Reference)
	}
	if b.Thread.Participants[0].ID != "12007" {
		t.Fatalf("numeric contact id read as %q", b.Thread.Participants[0].ID)
	}
	if want := time.Date(2024, 3, 2, 7, 59, 30, 500e6, time.UTC); !b.UpdatedAt.Equal(want) {
		t.Fatalf("milliseconds lost: %v", b.UpdatedAt)
	}
	if a.Version == b.Version || a.Version == "" {
		t.Fatalf("versions %q and %q", a.Version, b.Version)
	}
}

// TestVersion: a new message in either direction changes the version; a
// status change alone does not (it adds no message to fetch).
func TestVersion(t *testing.T) {
	base := thread{
		ID: "1", CreatedAt: "2024-03-01T09:00:00Z", Status: "OPEN",
		LatestMessageTimestamp: "2024-03-01T10:00:00Z", LatestMessageReceivedTimestamp: "2024-03-01T10:00:00Z",
		LatestMessageSentTimestamp: "2024-03-01T09:30:00Z",
	}
	version := func(th thread) string {
		it, err := th.item()
		if err != nil {
			t.Fatal(err)
		}
		return it.Version
	}
	v0 := version(base)
	closed := base
	closed.Status = "CLOSED"
	if version(closed) == v0 {
		t.Fatal("closing a thread kept its version: the engine would not see the episode end")
	}
	answered := base
	answered.LatestMessageTimestamp, answered.LatestMessageSentTimestamp = "2024-03-01T10:05:00Z", "2024-03-01T10:05:00Z"
	asked := base
	asked.LatestMessageTimestamp, asked.LatestMessageReceivedTimestamp = "2024-03-01T10:05:00Z", "2024-03-01T10:05:00Z"
	if version(answered) == v0 || version(asked) == v0 || version(answered) == version(asked) {
		t.Fatal("a new message did not change the version")
	}
}

func TestThreadWithoutMessagesIsUpdatedAtCreation(t *testing.T) {
	it, err := (&thread{ID: "5", CreatedAt: "2024-03-01T09:00:00Z"}).item()
	if err != nil {
		t.Fatal(err)
	}
	if !it.UpdatedAt.Equal(it.Thread.CreatedAt) || !it.LastMessageAt.IsZero() {
		t.Fatalf("updated %v, last message %v", it.UpdatedAt, it.LastMessageAt)
	}
}

func TestThreadMappingErrors(t *testing.T) {
	for name, th := range map[string]thread{
		"no id":              {CreatedAt: "2024-03-01T09:00:00Z"},
		"no createdAt":       {ID: "1"},
		"bad createdAt":      {ID: "1", CreatedAt: "yesterday"},
		"bad latest":         {ID: "1", CreatedAt: "2024-03-01T09:00:00Z", LatestMessageTimestamp: "soon"},
		"bad sent timestamp": {ID: "1", CreatedAt: "2024-03-01T09:00:00Z", LatestMessageSentTimestamp: "x"},
	} {
		if _, err := th.item(); !errors.Is(err, pollers.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// Ids are api.ID: strings, numbers of any size and null; an integral
// number in exponent form is the integer it denotes.
func TestIDsTakeStringsNumbersAndNull(t *testing.T) {
	var v struct{ A, B, C, D api.ID }
	decode(t, `{"A": "x-1", "B": 12345678901234567890, "C": null, "D": 1.5e3}`, &v)
	if v.A != "x-1" || v.B != "12345678901234567890" || v.C != "" || v.D != "1500" {
		t.Fatalf("%+v", v)
	}
	if err := json.Unmarshal([]byte(`{"A": {"id": 1}}`), &v); err == nil {
		t.Fatal("an object decoded as an id")
	}
	if err := json.Unmarshal([]byte(`{"A": [1]}`), &v); err == nil {
		t.Fatal("an array decoded as an id")
	}
}

// docMessages is hubspot.md §3.5's message page plus entries that are not
// messages.
const docMessages = `{"results": [
  {"type": "MESSAGE", "id": "a91f0c2e7d", "conversationsThreadId": "7509711154",
   "createdAt": "2024-03-01T10:02:11Z", "createdBy": "V-991", "client": {"clientType": "HUBSPOT"},
   "senders": [{"actorId": "V-991", "name": "Jane Visitor",
                "deliveryIdentifier": {"type": "HS_EMAIL_ADDRESS", "value": "jane@example.invalid"}}],
   "recipients": [], "archived": false, "text": "Any update on my order?",
   "attachments": [{"fileId": 777, "fileUsageType": "STANDARD", "name": "photo.jpg", "type": "FILE", "url": "https://f/777"},
                   {"fileId": "778", "url": "https://f/778"}],
   "truncationStatus": "NOT_TRUNCATED", "status": {"statusType": "SENT"},
   "direction": "INCOMING", "channelId": "1000", "channelAccountId": "240039"},
  {"type": "COMMENT", "id": "c1", "createdAt": "2024-03-01T09:50:00Z", "createdBy": "A-4242", "text": "VIP customer"},
  {"type": "MESSAGE", "id": "a91f0bb001", "createdAt": "2024-03-01T09:40:00Z", "createdBy": "A-4242",
   "senders": [{"actorId": "A-4242", "name": "Agent Smith"}], "text": "Hi Jane, checking now.",
   "direction": "OUTGOING"},
  {"type": "WELCOME_MESSAGE", "id": "w1", "createdAt": "2024-03-01T09:30:00Z", "direction": "OUTGOING", "text": "Hi!"}
]}`

func TestMessageMapping(t *testing.T) {
	var l messageList
	decode(t, docMessages, &l)
	if l.after() != "" {
		t.Fatal("a page without paging has a next page")
	}
	var got []events.Message
	for i := range l.Results {
		m := &l.Results[i]
		if !isMessage(m.Type) {
			continue
		}
		at, err := parseTime(m.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		em, err := m.message(at)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, em)
	}
	if len(got) != 2 {
		t.Fatalf("%d messages, want the 2 of type MESSAGE", len(got))
	}
	in, out := got[0], got[1]
	if in.ID != "a91f0c2e7d" || in.Direction != events.Inbound || in.Text != "Any update on my order?" ||
		in.Sender != (events.Participant{ID: "V-991", Name: "Jane Visitor", Role: "visitor"}) {
		t.Fatalf("inbound message %+v", in)
	}
	if len(in.Attachments) != 2 || in.Attachments[0] != (events.Attachment{ID: "777", Name: "photo.jpg"}) ||
		in.Attachments[1] != (events.Attachment{ID: "778", Name: "https://f/778"}) {
		t.Fatalf("attachments %+v", in.Attachments)
	}
	if out.Direction != events.Outbound || out.Sender.Role != "agent" || out.Attachments == nil {
		t.Fatalf("outbound message %+v", out)
	}
}

func TestDirection(t *testing.T) {
	for _, c := range []struct {
		dir, actor string
		want       events.Direction
	}{
		{"INCOMING", "A-1", events.Inbound}, // the stated direction wins
		{"OUTGOING", "V-1", events.Outbound},
		{"outgoing", "", events.Outbound},
		{"", "A-4242", events.Outbound},
		{"", "B-7", events.Outbound},
		{"", "I-3", events.Outbound},
		{"", "s-1", events.Outbound},
		{"", "V-991", events.Inbound},
		{"", "E-jane@example.invalid", events.Inbound},
		{"SIDEWAYS", "", events.Inbound},
		{"", "", events.Inbound},
	} {
		if got := direction(c.dir, c.actor); got != c.want {
			t.Errorf("direction(%q, %q) = %s, want %s", c.dir, c.actor, got, c.want)
		}
	}
	// Without senders, createdBy names the author.
	m := message{ID: "x", CreatedBy: "A-9"}
	em, err := m.message(time.Now())
	if err != nil || em.Direction != events.Outbound || em.Sender.ID != "A-9" {
		t.Fatalf("%+v %v", em, err)
	}
	if _, err := (&message{}).message(time.Now()); !errors.Is(err, pollers.ErrMalformed) {
		t.Fatalf("message without id: %v", err)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[api.Text]time.Time{
		"2023-11-07T05:31:56Z":          time.Date(2023, 11, 7, 5, 31, 56, 0, time.UTC),
		"2023-11-07T05:31:56.123Z":      time.Date(2023, 11, 7, 5, 31, 56, 123e6, time.UTC),
		"2023-11-07T06:31:56.123+01:00": time.Date(2023, 11, 7, 5, 31, 56, 123e6, time.UTC),
		"1699335116123":                 time.Date(2023, 11, 7, 5, 31, 56, 123e6, time.UTC),
		"2023-11-07 05:31:56":           time.Date(2023, 11, 7, 5, 31, 56, 0, time.UTC),
	} {
		got, err := parseTime(in)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []api.Text{"", "yesterday", "2023-13-07T05:31:56Z"} {
		if _, err := parseTime(in); !errors.Is(err, pollers.ErrMalformed) {
			t.Errorf("parseTime(%q): %v, want ErrMalformed", in, err)
		}
	}
}

func TestEntryTypes(t *testing.T) {
	for typ, want := range map[string]bool{
		"MESSAGE": true, "message": true, "COMMENT": false, "WELCOME_MESSAGE": false,
		"THREAD_STATUS_CHANGE": false, "ASSIGNMENT": false, "": false,
	} {
		if isMessage(typ) != want {
			t.Errorf("isMessage(%q) = %v", typ, !want)
		}
	}
	for status, want := range map[string]bool{"": false, "NOT_TRUNCATED": false, "TRUNCATED": true, "TRUNCATED_TO_MOST_RECENT_REPLY": true} {
		if truncated(status) != want {
			t.Errorf("truncated(%q) = %v", status, !want)
		}
	}
}
