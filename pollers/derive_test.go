package pollers

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

var testOrigin = events.Origin{Prefix: "inbox", Provider: "olx", Account: "a1"}

func at(min int) time.Time { return time.Date(2024, 3, 1, 10, min, 0, 0, time.UTC) }

func msg(id string, min int, d events.Direction) events.Message {
	return events.Message{ID: id, CreatedAt: at(min), Direction: d}
}

// deriveEvents is derive's events and next state.
func deriveEvents(in deriveInput) ([]events.Event, checkpoint.ThreadState) {
	d := derive(in)
	return d.events, d.state
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDeriveDerivedReplyNeeded(t *testing.T) {
	t.Parallel()
	item := &Item{Thread: events.Thread{ID: "t"}, Version: "v1"}
	in, out := events.Inbound, events.Outbound
	cases := []struct {
		name string
		prev *checkpoint.ThreadState
		msgs []events.Message
		want []string
		// wantReply is the open episode's minute afterwards; -1 none.
		wantReply int
	}{
		{"new thread, customer waits", nil,
			[]events.Message{msg("m1", 1, in), msg("m2", 2, in)},
			[]string{"C", "M:m1", "R:01:m1", "M:m2"}, 1},
		{"new thread, answered: the closed episode is not announced", nil,
			[]events.Message{msg("m1", 1, in), msg("m2", 2, out)},
			[]string{"C", "M:m1", "M:m2"}, -1},
		{"history: only the episode still open is announced", nil,
			[]events.Message{msg("m1", 1, in), msg("m2", 2, out), msg("m3", 3, in), msg("m4", 4, in)},
			[]string{"C", "M:m1", "M:m2", "M:m3", "R:03:m3", "M:m4"}, 3},
		{"messages out of order are sorted", nil,
			[]events.Message{msg("m2", 2, out), msg("m1", 1, in)},
			[]string{"C", "M:m1", "M:m2"}, -1},
		{"new inbound after answer opens an episode",
			&checkpoint.ThreadState{Version: "v0", MsgAt: at(2), MsgIDs: []string{"m2"}, LastMsgID: "m2"},
			[]events.Message{msg("m1", 1, in), msg("m2", 2, out), msg("m3", 3, in)},
			[]string{"M:m3", "R:03:m3"}, 3},
		{"second inbound while pending: no new episode",
			&checkpoint.ThreadState{Version: "v0", MsgAt: at(3), MsgIDs: []string{"m3"}, ReplySince: at(3)},
			[]events.Message{msg("m3", 3, in), msg("m4", 4, in)},
			[]string{"M:m4"}, 3},
		{"answer closes the episode",
			&checkpoint.ThreadState{Version: "v0", MsgAt: at(3), MsgIDs: []string{"m3"}, ReplySince: at(3)},
			[]events.Message{msg("m3", 3, in), msg("m4", 4, out)},
			[]string{"M:m4"}, -1},
		{"same timestamp, new id is new; seen id is not",
			&checkpoint.ThreadState{Version: "v0", MsgAt: at(3), MsgIDs: []string{"m3"}},
			[]events.Message{msg("m3", 3, out), msg("m3b", 3, out)},
			[]string{"M:m3b"}, -1},
		{"nil ids at watermark: all at that time seen",
			&checkpoint.ThreadState{Version: "v0", MsgAt: at(3)},
			[]events.Message{msg("m3", 3, in), msg("m4", 4, out)},
			[]string{"M:m4"}, -1},
		{"a message listed twice is emitted once", nil,
			[]events.Message{msg("m1", 1, out), msg("m1", 1, out)},
			[]string{"C", "M:m1"}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, next := deriveEvents(deriveInput{origin: testOrigin, item: item, prev: c.prev, msgs: c.msgs})
			if got := kinds(evs); !equal(got, c.want) {
				t.Fatalf("events %v, want %v", got, c.want)
			}
			if c.wantReply < 0 && !next.ReplySince.IsZero() || c.wantReply >= 0 && !next.ReplySince.Equal(at(c.wantReply)) {
				t.Fatalf("open episode %v, want minute %d", next.ReplySince, c.wantReply)
			}
			if next.Version != "v1" {
				t.Fatalf("version %q not taken from the item", next.Version)
			}
			// Deriving again from the state it produced yields nothing.
			again, _ := deriveEvents(deriveInput{origin: testOrigin, item: item, prev: &next, msgs: c.msgs})
			if len(again) != 0 {
				t.Fatalf("second derive emitted %v", kinds(again))
			}
		})
	}
}

func TestDeriveStatedReplyNeeded(t *testing.T) {
	t.Parallel()
	since := at(5)
	in, out := events.Inbound, events.Outbound
	item := &Item{Thread: events.Thread{ID: "t"}, Version: "v1", ReplyNeededSince: &since}
	msgs := []events.Message{msg("m1", 1, in), msg("m2", 2, out), msg("m5", 5, in)}

	evs, next := deriveEvents(deriveInput{origin: testOrigin, item: item, msgs: msgs, stated: true})
	if got, want := kinds(evs), []string{"C", "M:m1", "M:m2", "M:m5", "R:05:m5"}; !equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// The provider moves the date while still pending: same episode.
	later := at(6)
	moved := &Item{Thread: events.Thread{ID: "t"}, Version: "v2", ReplyNeededSince: &later}
	evs, next = deriveEvents(deriveInput{origin: testOrigin, item: moved, prev: &next, msgs: append(msgs, msg("m6", 6, in)), stated: true})
	if got, want := kinds(evs), []string{"M:m6"}; !equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// The shop replies: episode closed; the next need is a new episode.
	answered := &Item{Thread: events.Thread{ID: "t"}, Version: "v3"}
	_, next = deriveEvents(deriveInput{origin: testOrigin, item: answered, prev: &next, msgs: []events.Message{msg("m7", 7, out)}, stated: true})
	if !next.ReplySince.IsZero() {
		t.Fatal("episode still open after the reply")
	}
	again := at(8)
	evs, _ = deriveEvents(deriveInput{origin: testOrigin, item: &Item{Thread: events.Thread{ID: "t"}, Version: "v4", ReplyNeededSince: &again}, prev: &next, msgs: []events.Message{msg("m8", 8, in)}, stated: true})
	if got, want := kinds(evs), []string{"M:m8", "R:08:m8"}; !equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestDeriveSilent(t *testing.T) {
	t.Parallel()
	since := at(2)
	item := &Item{Thread: events.Thread{ID: "t"}, Version: "v1", LastMessageAt: at(2), ReplyNeededSince: &since}
	evs, next := deriveEvents(deriveInput{origin: testOrigin, item: item, silent: true, stated: true})
	if len(evs) != 0 {
		t.Fatalf("silent derive emitted %v", kinds(evs))
	}
	if !next.MsgAt.Equal(at(2)) || next.MsgIDs != nil || !next.ReplySince.Equal(since) {
		t.Fatalf("silent state %+v", next)
	}
	// Afterwards only what is new counts, and the open episode is not re-announced.
	item2 := &Item{Thread: events.Thread{ID: "t"}, Version: "v2", ReplyNeededSince: &since}
	evs, _ = deriveEvents(deriveInput{origin: testOrigin, item: item2, prev: &next, stated: true,
		msgs: []events.Message{msg("m1", 1, events.Inbound), msg("m2", 2, events.Inbound), msg("m3", 3, events.Inbound)}})
	if got, want := kinds(evs), []string{"M:m3"}; !equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestDedupeKeepsLastOccurrence(t *testing.T) {
	t.Parallel()
	items := []Item{{Thread: events.Thread{ID: "a"}, Version: "1"}, {Thread: events.Thread{ID: "b"}}, {Thread: events.Thread{ID: "a"}, Version: "2"}}
	got := dedupe(items)
	if len(got) != 2 || got[0].Version != "2" || got[1].Thread.ID != "b" {
		t.Fatalf("dedupe = %+v", got)
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Skip("no tzdata")
	}
	cases := []struct {
		in   string
		loc  *time.Location
		want time.Time
	}{
		{"2024-03-01T09:30:00Z", nil, time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)},
		{"2021-12-27T11:10:27.729971+01:00", nil, time.Date(2021, 12, 27, 10, 10, 27, 729971000, time.UTC)},
		{"2018-01-30 08:26:36", nil, time.Date(2018, 1, 30, 8, 26, 36, 0, time.UTC)},
		{"2018-01-30 08:26:36", warsaw, time.Date(2018, 1, 30, 7, 26, 36, 0, time.UTC)},
		{"2024-03-05T18:22:40+0300", nil, time.Date(2024, 3, 5, 15, 22, 40, 0, time.UTC)},
		{"2024-03-05 18:22:40+03:00", warsaw, time.Date(2024, 3, 5, 15, 22, 40, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := ParseTime(c.in, c.loc)
		if err != nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	if _, err := ParseTime("yesterday", nil); err == nil {
		t.Error("garbage time accepted")
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	if d := parseRetryAfter("7", now); d != 7*time.Second {
		t.Errorf("seconds: %s", d)
	}
	if d := parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); d != 90*time.Second {
		t.Errorf("date: %s", d)
	}
	if d := parseRetryAfter("soon", now); d != 0 {
		t.Errorf("garbage: %s", d)
	}
}

func TestDeriveThreadTimeFromFirstMessage(t *testing.T) {
	t.Parallel()
	item := &Item{Thread: events.Thread{ID: "t"}, Version: "v"}
	evs, _ := deriveEvents(deriveInput{origin: testOrigin, item: item, msgs: []events.Message{msg("m2", 2, events.Outbound), msg("m1", 1, events.Inbound)}})
	if got := evs[0].Data.(*events.ThreadCreatedData).Thread.CreatedAt; !got.Equal(at(1)) {
		t.Fatalf("ThreadCreated time %v, want the first message's %v", got, at(1))
	}
}

func TestDeriveClosedThreadEndsTheEpisode(t *testing.T) {
	t.Parallel()
	in := events.Inbound
	closed := &Item{Thread: events.Thread{ID: "t"}, Version: "v1|CLOSED", Closed: true, LastMessageAt: at(1)}
	// A full sync of a closed thread whose last word is the customer's.
	evs, next := deriveEvents(deriveInput{origin: testOrigin, item: closed, msgs: []events.Message{msg("m1", 1, in)}})
	if got, want := kinds(evs), []string{"C", "M:m1"}; !equal(got, want) {
		t.Fatalf("closed thread: %v, want %v", got, want)
	}
	if !next.ReplySince.IsZero() {
		t.Fatal("closed thread left an episode open")
	}
	// The customer writes again and the thread reopens: a new episode.
	open := &Item{Thread: events.Thread{ID: "t"}, Version: "v2|OPEN"}
	evs, _ = deriveEvents(deriveInput{origin: testOrigin, item: open, prev: &next, msgs: []events.Message{msg("m1", 1, in), msg("m2", 2, in)}})
	if got, want := kinds(evs), []string{"M:m2", "R:02:m2"}; !equal(got, want) {
		t.Fatalf("reopened thread: %v, want %v", got, want)
	}
	// Listed as closed, but its messages show one written after the list
	// looked: the close is stale, the new message opens an episode.
	evs, _ = deriveEvents(deriveInput{origin: testOrigin, item: closed, prev: &next, msgs: []events.Message{msg("m1", 1, in), msg("m3", 3, in)}})
	if got, want := kinds(evs), []string{"M:m3", "R:03:m3"}; !equal(got, want) {
		t.Fatalf("stale close: %v, want %v", got, want)
	}
}

// FuzzParseTime: any input either parses to a UTC time or fails as malformed.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-03-01T09:30:00Z", "2018-01-30 08:26:36", "2024-03-05T18:22:40+0300", "", "0000-00-00 00:00:00", "2024-13-45T99:99:99Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s, time.FixedZone("X", 3600))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseTime(%q): %v does not wrap ErrMalformed", s, err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, got)
		}
	})
}

// A page that announced an episode and whose commit was lost is looked at
// again after the answer came: recovering, derive announces the same
// episode again (the same id, which the stream drops as a duplicate) and
// resolves it, so no ReplyNeeded is left without its end.
func TestDeriveRecoveringEndsWhatALostPageAnnounced(t *testing.T) {
	t.Parallel()
	in, out := events.Inbound, events.Outbound
	known := &checkpoint.ThreadState{Version: "v0", MsgAt: at(1), MsgIDs: []string{"m1"}, LastMsgID: "m1"}
	ptr := func(t time.Time) *time.Time { return &t }
	cases := []struct {
		name       string
		stated     bool
		prev       *checkpoint.ThreadState
		then, now  *Item
		thenMsgs   []events.Message
		nowMsgs    []events.Message
		resolution events.Resolution
	}{
		{"derived, answered", false, known,
			&Item{Thread: events.Thread{ID: "t"}, Version: "v1"}, &Item{Thread: events.Thread{ID: "t"}, Version: "v2"},
			[]events.Message{msg("m1", 1, out), msg("m2", 2, in)},
			[]events.Message{msg("m1", 1, out), msg("m2", 2, in), msg("m3", 3, in), msg("m4", 4, out)},
			events.Answered},
		{"derived, new thread, closed", false, nil,
			&Item{Thread: events.Thread{ID: "t"}, Version: "v1"}, &Item{Thread: events.Thread{ID: "t"}, Version: "v2", Closed: true, LastMessageAt: at(2)},
			[]events.Message{msg("m2", 2, in)},
			[]events.Message{msg("m2", 2, in)},
			events.Closed},
		{"stated, answered", true, known,
			&Item{Thread: events.Thread{ID: "t"}, Version: "v1", ReplyNeededSince: ptr(at(2))}, &Item{Thread: events.Thread{ID: "t"}, Version: "v2"},
			[]events.Message{msg("m2", 2, in)},
			[]events.Message{msg("m2", 2, in), msg("m3", 3, in), msg("m4", 4, out)},
			events.Answered},
		{"stated, answered and asked again", true, known,
			&Item{Thread: events.Thread{ID: "t"}, Version: "v1", ReplyNeededSince: ptr(at(2))}, &Item{Thread: events.Thread{ID: "t"}, Version: "v2", ReplyNeededSince: ptr(at(5))},
			[]events.Message{msg("m2", 2, in)},
			[]events.Message{msg("m2", 2, in), msg("m4", 4, out), msg("m5", 5, in)},
			events.Answered},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lost := derive(deriveInput{origin: testOrigin, item: c.then, prev: c.prev, msgs: c.thenMsgs, stated: c.stated, now: at(5)})
			var announced *events.Event
			for i := range lost.events {
				if lost.events[i].Type == events.ReplyNeeded {
					announced = &lost.events[i]
				}
			}
			if announced == nil {
				t.Fatalf("the lost page announced nothing: %v", kinds(lost.events))
			}
			quiet := derive(deriveInput{origin: testOrigin, item: c.now, prev: c.prev, msgs: c.nowMsgs, stated: c.stated, now: at(5)})
			for _, e := range quiet.events {
				if e.ID == announced.ID {
					t.Fatalf("not recovering, the ended episode was announced: %v", kinds(quiet.events))
				}
			}
			since := announced.Data.(*events.ReplyNeededData).NeededSince
			// This worker's own page: it knows what the page announced.
			// Another's: the episodes that ended after it took over.
			for _, hint := range []struct {
				name string
				h    recoveryHint
			}{{"own page", recoveryHint{lost: since}}, {"previous holder's page", recoveryHint{after: at(0), until: at(2)}}} {
				d := derive(deriveInput{origin: testOrigin, item: c.now, prev: c.prev, msgs: c.nowMsgs, stated: c.stated, now: at(5), recover: hint.h})
				checkRecovered(t, hint.name, d, announced, c.resolution, c.now.ReplyNeededSince != nil)
			}
			// Episodes the lost page cannot have announced stay
			// unannounced: another episode's, one that ended before the
			// previous holder took over, one that began after it died.
			for _, hint := range []recoveryHint{{lost: at(9)}, {after: at(9), until: at(10)}, {after: at(0), until: at(1)}} {
				d := derive(deriveInput{origin: testOrigin, item: c.now, prev: c.prev, msgs: c.nowMsgs, stated: c.stated, now: at(5), recover: hint})
				for _, e := range d.events {
					if e.ID == announced.ID {
						t.Fatalf("hint %+v: an episode the lost page did not announce was announced: %v", hint, kinds(d.events))
					}
				}
			}
		})
	}
}

// checkRecovered checks that d announces the episode announced again and
// resolves it.
func checkRecovered(t *testing.T, name string, d derived, announced *events.Event, resolution events.Resolution, stillOpen bool) {
	t.Helper()
	var again, resolved bool
	for _, e := range d.events {
		switch data := e.Data.(type) {
		case *events.ReplyNeededData:
			again = again || e.ID == announced.ID
		case *events.ReplyResolvedData:
			if data.NeededSince.Equal(announced.Data.(*events.ReplyNeededData).NeededSince) {
				if data.Resolution != resolution || resolved {
					t.Fatalf("%s: resolution %+v", name, data)
				}
				resolved = true
			}
		}
	}
	if !again || !resolved {
		t.Fatalf("%s: announced again %v, resolved %v: %v", name, again, resolved, kinds(d.events))
	}
	// Only the episode the provider still shows stays open.
	if d.state.Open() != stillOpen || d.open != 0 && !stillOpen {
		t.Fatalf("%s: open afterwards %v (%+d), want %v", name, d.state.Open(), d.open, stillOpen)
	}
}
