package events

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// referenceEnvelope is the envelope as encoding/json writes envelopeOut:
// what the hand-written encoder must reproduce byte for byte.
func referenceEnvelope(e Event) ([]byte, error) {
	return json.Marshal(envelopeOut{
		SpecVersion: "1.0", ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Thread,
		Time: e.Time.UTC(), DataContentType: "application/json", DataSchema: e.Type.SchemaID(),
		TraceParent: e.TraceParent, TraceState: e.TraceState, Data: e.Data,
	})
}

// nasty are strings that exercise every escaping rule.
var nasty = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnl\nret\rbs\bff\f",
	"\x00\x01\x1f\x7f", "é ü 日本語 🎉", "bad \xff\xfe utf-8 \xc3", "\u2028 line \u2029 para",
	"trailing \xe2\x80", "/slash/", strings.Repeat("long text ", 200),
}

func randString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return nasty[r.IntN(len(nasty))]
	}
	b := make([]byte, r.IntN(40))
	for i := range b {
		switch r.IntN(10) {
		case 0:
			b[i] = byte(r.IntN(256))
		case 1:
			b[i] = byte(r.IntN(0x20))
		default:
			b[i] = byte(0x20 + r.IntN(0x60))
		}
	}
	return string(b)
}

func randTime(r *rand.Rand) time.Time {
	switch r.IntN(8) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(2024, 3, 1, 9, 30, 0, 0, time.FixedZone("x", 5*3600+1800))
	case 2:
		return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // MarshalJSON refuses it
	case 3:
		return time.Date(2024, 3, 1, 9, 30, 0, r.IntN(1e9), time.UTC).Local()
	}
	return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
}

func randParticipants(r *rand.Rand) []Participant {
	if r.IntN(5) == 0 {
		return nil
	}
	ps := make([]Participant, r.IntN(4))
	for i := range ps {
		ps[i] = Participant{ID: randString(r), Name: randString(r), Role: randString(r)}
	}
	return ps
}

func randEvent(r *rand.Rand) Event {
	o := Origin{Prefix: "inbox", Provider: randString(r), Account: randString(r)}
	var e Event
	switch r.IntN(9) {
	case 0, 1:
		th := Thread{ID: randString(r), CreatedAt: randTime(r), Topic: randString(r),
			Reference: Reference{Type: randString(r), ID: randString(r)}, Participants: randParticipants(r)}
		e = NewThreadCreated(o, th)
		if r.IntN(4) == 0 {
			e.Data.(*ThreadCreatedData).Thread.Participants = nil
			e.Data.(*ThreadCreatedData).Thread.CreatedAt = randTime(r)
		}
	case 2, 3:
		m := Message{ID: randString(r), CreatedAt: randTime(r), Direction: Direction(randString(r)),
			Sender: Participant{ID: randString(r), Name: randString(r), Role: randString(r)}, Text: randString(r)}
		if r.IntN(3) > 0 {
			for range r.IntN(3) {
				m.Attachments = append(m.Attachments, Attachment{ID: randString(r), Name: randString(r), Size: r.Int64N(1<<40) - 5})
			}
		}
		e = NewMessageReceived(o, randString(r), m)
		if r.IntN(4) == 0 {
			e.Data.(*MessageReceivedData).Message.Attachments = nil
			e.Data.(*MessageReceivedData).Message.CreatedAt = randTime(r)
		}
	case 4, 5:
		e = NewReplyNeeded(o, randString(r), randTime(r), randString(r))
		if r.IntN(2) == 0 {
			s := SLA{Policy: randString(r), DueAt: randTime(r)}
			if r.IntN(2) == 0 {
				s.WarnAt = randTime(r)
			}
			e = e.WithSLA(s)
		}
		if r.IntN(4) == 0 {
			e.Data.(*ReplyNeededData).NeededSince = randTime(r)
		}
	case 6:
		e = NewReplyResolved(o, randString(r), Resolved{NeededSince: randTime(r), At: randTime(r), How: Answered, Business: -1})
	case 7:
		e = NewAccountEvent(o, AccountFailing, AccountState{Since: randTime(r), Failures: r.IntN(9), Error: randString(r)})
	default:
		// Data the encoder does not know, and nil pointers of types it does.
		e = Event{ID: randString(r), Type: Type(randString(r)), Data: []any{randString(r), 1.5, nil}}
		switch r.IntN(4) {
		case 0:
			e.Data = (*MessageReceivedData)(nil)
		case 1:
			e.Data = (*ThreadCreatedData)(nil)
		case 2:
			e.Data = (*ReplyNeededData)(nil)
		}
	}
	if r.IntN(4) == 0 {
		e.Time = randTime(r)
	}
	if r.IntN(5) == 0 {
		e.TraceParent, e.TraceState = randString(r), randString(r)
	}
	if r.IntN(8) == 0 {
		e.Thread, e.Source = randString(r), randString(r)
	}
	return e
}

// TestEnvelopeBytes: the hand-written envelope is byte for byte what
// encoding/json writes, errors included, whatever the strings and times.
func TestEnvelopeBytes(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(13, 3))
	prefix := []byte("prefix")
	for i := range 20000 {
		e := randEvent(r)
		want, werr := referenceEnvelope(e)
		got, gerr := e.MarshalJSON()
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("event %d: error %v, encoding/json's %v", i, gerr, werr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
		// Appended after other bytes, as the publisher's arena does.
		got, gerr = appendEnvelope(bytes.Clone(prefix), &e)
		if werr == nil && (gerr != nil || !bytes.Equal(got, append(bytes.Clone(prefix), want...))) {
			t.Fatalf("event %d appended: %s %v", i, got, gerr)
		}
	}
}

// TestEventIDIsUUIDv5: ids are uuid.NewSHA1 of the fact, as they always were.
func TestEventIDIsUUIDv5(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 13))
	for range 2000 {
		o := Origin{Provider: randString(r), Account: randString(r)}
		typ := Type(randString(r))
		parts := make([]string, r.IntN(4))
		for i := range parts {
			parts[i] = randString(r)
			if r.IntN(10) == 0 {
				parts[i] = strings.Repeat("p", 300) // past the stack buffer
			}
		}
		name := []byte(o.Provider + "\x00" + o.Account + "\x00" + string(typ))
		for _, p := range parts {
			name = append(append(name, 0), p...)
		}
		if got, want := eventID(o, typ, parts...), uuid.NewSHA1(idSpace, name).String(); got != want {
			t.Fatalf("eventID(%q, %q, %q) = %s, want %s", o, typ, parts, got, want)
		}
	}
}

var sinkBytes []byte

func BenchmarkEnvelope(b *testing.B) {
	o := Origin{Prefix: "inbox", Provider: "mirakl", Account: "shop-2001"}
	at := time.Date(2024, 3, 1, 9, 30, 0, 123456789, time.UTC)
	e := NewMessageReceived(o, "thread-123456", Message{ID: "msg-1234567", CreatedAt: at, Direction: Inbound,
		Sender: Participant{ID: "2001", Name: "Jane Customer", Role: "customer"},
		Text:   strings.Repeat("Hello, where is my order? ", 20)})
	b.Run("handwritten", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for range b.N {
			sinkBytes, _ = appendEnvelope(buf[:0], &e)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			sinkBytes, _ = referenceEnvelope(e)
		}
	})
	b.Run("id", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = eventID(o, MessageReceived, "thread-123456", "msg-1234567")
		}
	})
}
