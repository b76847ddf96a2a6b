package events

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// The envelope is on the publish path of every event, so it is written by
// hand: appendEnvelope produces the very bytes encoding/json produces for
// envelopeOut (the same field order, omitempty, HTML-safe string escaping,
// RFC 3339 times, null for nil slices), at a fraction of the CPU and with
// no allocation of its own. The data of the three types a sync publishes
// in bulk (ThreadCreated, MessageReceived, ReplyNeeded) is written by hand
// too; any other data goes through encoding/json. TestEnvelopeBytes holds
// the two encodings to the same bytes.

// appendEnvelope appends e's CloudEvents envelope to b.
func appendEnvelope(b []byte, e *Event) ([]byte, error) {
	start := len(b)
	b = append(b, `{"specversion":"1.0","id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"source":`...)
	b = appendString(b, e.Source)
	b = append(b, `,"type":`...)
	b = appendString(b, string(e.Type))
	b = append(b, `,"subject":`...)
	b = appendString(b, e.Thread)
	b = append(b, `,"time":`...)
	var ok bool
	if b, ok = appendTime(b, e.Time.UTC()); !ok {
		return slowEnvelope(b[:start], e)
	}
	// SchemaID's characters need no escaping.
	b = append(b, `,"datacontenttype":"application/json","dataschema":"`+schemaBase...)
	b = append(b, e.Type.suffix()...)
	b = append(b, schemaVersion+`"`...)
	if e.TraceParent != "" {
		b = append(b, `,"traceparent":`...)
		b = appendString(b, e.TraceParent)
	}
	if e.TraceState != "" {
		b = append(b, `,"tracestate":`...)
		b = appendString(b, e.TraceState)
	}
	b = append(b, `,"data":`...)
	if b, ok = appendData(b, e.Data); !ok {
		return slowEnvelope(b[:start], e)
	}
	return append(b, '}'), nil
}

// slowEnvelope appends the envelope as encoding/json writes it, for what
// the hand-written encoder leaves to it (and its errors).
func slowEnvelope(b []byte, e *Event) ([]byte, error) {
	out, err := json.Marshal(envelopeOut{
		SpecVersion: "1.0", ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Thread,
		Time: e.Time.UTC(), DataContentType: "application/json", DataSchema: e.Type.SchemaID(),
		TraceParent: e.TraceParent, TraceState: e.TraceState, Data: e.Data,
	})
	if err != nil {
		return b, err
	}
	return append(b, out...), nil
}

// appendData appends the data of the bulk event types; ok is false for
// anything else, which slowEnvelope then encodes.
func appendData(b []byte, data any) (_ []byte, ok bool) {
	switch d := data.(type) {
	case *MessageReceivedData:
		if d == nil {
			return b, false
		}
		b = appendOrigin(b, d.Provider, d.Account, d.ThreadID)
		m := &d.Message
		b = append(b, `,"message":{"id":`...)
		b = appendString(b, m.ID)
		b = append(b, `,"created_at":`...)
		if b, ok = appendTime(b, m.CreatedAt); !ok {
			return b, false
		}
		b = append(b, `,"direction":`...)
		b = appendString(b, string(m.Direction))
		b = append(b, `,"sender":`...)
		b = appendParticipant(b, &m.Sender)
		b = append(b, `,"text":`...)
		b = appendString(b, m.Text)
		b = append(b, `,"attachments":`...)
		if m.Attachments == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i := range m.Attachments {
				a := &m.Attachments[i]
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"id":`...)
				b = appendString(b, a.ID)
				b = append(b, `,"name":`...)
				b = appendString(b, a.Name)
				b = append(b, `,"size":`...)
				b = strconv.AppendInt(b, a.Size, 10)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		return append(b, "}}"...), true
	case *ThreadCreatedData:
		if d == nil {
			return b, false
		}
		b = appendOrigin(b, d.Provider, d.Account, d.ThreadID)
		t := &d.Thread
		b = append(b, `,"thread":{"id":`...)
		b = appendString(b, t.ID)
		b = append(b, `,"created_at":`...)
		if b, ok = appendTime(b, t.CreatedAt); !ok {
			return b, false
		}
		b = append(b, `,"topic":`...)
		b = appendString(b, t.Topic)
		b = append(b, `,"reference":{"type":`...)
		b = appendString(b, t.Reference.Type)
		b = append(b, `,"id":`...)
		b = appendString(b, t.Reference.ID)
		b = append(b, `},"participants":`...)
		if t.Participants == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i := range t.Participants {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendParticipant(b, &t.Participants[i])
			}
			b = append(b, ']')
		}
		return append(b, "}}"...), true
	case *ReplyNeededData:
		if d == nil {
			return b, false
		}
		b = appendOrigin(b, d.Provider, d.Account, d.ThreadID)
		b = append(b, `,"needed_since":`...)
		if b, ok = appendTime(b, d.NeededSince); !ok {
			return b, false
		}
		b = append(b, `,"last_inbound_message_id":`...)
		b = appendString(b, d.LastInboundMessageID)
		if d.Policy != "" {
			b = append(b, `,"policy":`...)
			b = appendString(b, d.Policy)
		}
		if d.DueAt != nil {
			b = append(b, `,"due_at":`...)
			if b, ok = appendTime(b, *d.DueAt); !ok {
				return b, false
			}
		}
		if d.WarnAt != nil {
			b = append(b, `,"warn_at":`...)
			if b, ok = appendTime(b, *d.WarnAt); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	}
	return b, false
}

// appendOrigin opens a data object with the fields every thread event starts with.
func appendOrigin(b []byte, provider, account, threadID string) []byte {
	b = append(b, `{"provider":`...)
	b = appendString(b, provider)
	b = append(b, `,"account":`...)
	b = appendString(b, account)
	b = append(b, `,"thread_id":`...)
	return appendString(b, threadID)
}

func appendParticipant(b []byte, p *Participant) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, p.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, p.Name)
	b = append(b, `,"role":`...)
	b = appendString(b, p.Role)
	return append(b, '}')
}

// appendTime appends t as time.Time's MarshalJSON does; ok is false where
// MarshalJSON fails (years outside 0-9999, offsets of a day or more), so
// that the caller takes encoding/json's path and its error.
func appendTime(b []byte, t time.Time) (_ []byte, ok bool) {
	out, err := t.AppendText(append(b, '"')) // MarshalJSON's format and checks
	if err != nil {
		return b, false
	}
	return append(out, '"'), true
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json's
// Marshal writes it: HTML-safe (<, > and & escaped), invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// htmlSafe marks the ASCII bytes a JSON string holds as they are:
// printable, and neither '"', '\\', '<', '>' nor '&'.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
