package partizapsim

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/threadsync/threadsync/pollers/sim"
)

const (
	defaultConvLimit   = 20 // partizap.md §2.1 [C]
	defaultMsgLimit    = 50 // partizap.md §2.2, assumed for the message list
	defaultGlobalLimit = 20
	maxLimit           = 100
)

// Cursor kinds: the cursor says what it continues, so one is never taken for
// another.
const (
	kindKeyset  = "k" // conversations, keyset position
	kindOffset  = "o" // conversations, offset
	kindMessage = "m" // a conversation's messages, keyset by message id
	kindSearch  = "s" // search results, offset
)

// cursor is the opaque cursor: unpadded base64url of this JSON, like the
// doc's example eyJpZCI6NTAxMn0 ({"id":5012}).
type cursor struct {
	V      int    `json:"v"`
	Kind   string `json:"k"`
	Vendor int64  `json:"u"`
	Conv   int64  `json:"c,omitempty"`
	Ns     int64  `json:"t,omitempty"`
	ID     int64  `json:"id,omitempty"`
	Off    int    `json:"o,omitempty"`
	Query  string `json:"q,omitempty"`
}

const cursorVersion = 1

func encodeCursor(c cursor) string {
	c.V = cursorVersion
	return sim.EncodeToken(c)
}

// pageQuery reads limit (def when absent) and the cursor of kind, if
// any, answering 422 and ok false for either when bad.
func pageQuery(w http.ResponseWriter, q url.Values, def int, kind string, vendorID, convID int64) (limit int, c cursor, present, ok bool) {
	if limit, ok = parseLimit(w, q, def); ok {
		if c, present, ok = decodeCursor(q, kind, vendorID, convID); !ok {
			invalidCursor(w)
		}
	}
	return limit, c, present, ok
}

// writeList answers a list: rows appends the rows to the opened data
// array and returns the next cursor, "" on the last page.
func writeList(w http.ResponseWriter, rows func(b []byte) ([]byte, string)) {
	buf := getBuf()
	defer putBuf(buf)
	b, next := rows(append(*buf, `{"data":[`...))
	*buf = appendMeta(b, next)
	writeBody(w, http.StatusOK, *buf)
}

// decodeCursor reads the cursor parameter, if any; ok is false when it is
// present but not one this vendor's request of this kind can continue.
func decodeCursor(q url.Values, kind string, vendorID, convID int64) (c cursor, present, ok bool) {
	raw := q.Get("cursor")
	if raw == "" {
		return c, false, true
	}
	if !sim.DecodeToken(raw, &c) || c.V != cursorVersion ||
		c.Kind != kind || c.Vendor != vendorID || c.Conv != convID || c.Off < 0 {
		return c, true, false
	}
	return c, true, true
}

func invalidCursor(w http.ResponseWriter) {
	writeValidation(w, "cursor", "The cursor is invalid.")
}

// parseLimit reads limit: 1 to 100, def when absent.
func parseLimit(w http.ResponseWriter, q url.Values, def int) (int, bool) {
	s := q.Get("limit")
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		writeValidation(w, "limit", "The limit field must be an integer between 1 and 100.")
		return 0, false
	}
	return n, true
}

// handleList serves GET /vendor/conversations.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, v *vendor) {
	kind := kindKeyset
	if s.cfg.OffsetCursor {
		kind = kindOffset
	}
	limit, cur, present, ok := pageQuery(w, r.URL.Query(), defaultConvLimit, kind, v.id, 0)
	if !ok {
		return
	}
	writeList(w, func(b []byte) ([]byte, string) {
		v.RLock()
		defer v.RUnlock()
		rows, next := s.listPage(v, cur, present, limit)
		for i, c := range rows {
			if i > 0 {
				b = append(b, ',')
			}
			b = s.appendConv(b, v, c)
		}
		s.Add("conversations_listed", int64(len(rows)))
		return b, next
	})
}

// listPage picks one page of conversations and the cursor of the next, ""
// on the last page. Call with v.mu read-locked. O(log n + limit).
func (s *Server) listPage(v *vendor, cur cursor, present bool, limit int) ([]*conv, string) {
	idx := v.index.Items()
	n := len(idx)
	rows := make([]*conv, 0, min(limit, n))
	if s.cfg.OffsetCursor {
		off := 0
		if present {
			off = cur.Off
		}
		for i := off; i < n && len(rows) < limit; i++ {
			if s.cfg.Order == OldestFirst {
				rows = append(rows, idx[i])
			} else {
				rows = append(rows, idx[n-1-i])
			}
		}
		if off+limit >= n {
			return rows, ""
		}
		return rows, encodeCursor(cursor{Kind: kindOffset, Vendor: v.id, Off: off + limit})
	}
	more := false
	if s.cfg.Order == OldestFirst {
		start := 0
		if present {
			start = v.index.After(cur.Ns, cur.ID)
		}
		end := min(n, start+limit)
		rows = append(rows, idx[start:end]...)
		more = end < n
	} else {
		end := n
		if present {
			end = v.index.Search(cur.Ns, cur.ID)
		}
		start := max(0, end-limit)
		for i := end - 1; i >= start; i-- {
			rows = append(rows, idx[i])
		}
		more = start > 0
	}
	if !more || len(rows) == 0 {
		return rows, ""
	}
	last := rows[len(rows)-1]
	return rows, encodeCursor(cursor{Kind: kindKeyset, Vendor: v.id, Ns: last.updNs, ID: last.id})
}

// convFromPath finds the conversation of the {id} path segment, or answers
// 404: unknown ids and other vendors' conversations look the same.
func convFromPath(w http.ResponseWriter, r *http.Request, v *vendor) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err == nil {
		v.RLock()
		_, ok := v.convs[id]
		v.RUnlock()
		if ok {
			return id, true
		}
	}
	writeError(w, http.StatusNotFound, "Conversation not found.")
	return 0, false
}

// handleMessages serves the message list of a conversation (assumed by
// partizap.md): cursor and limit like the conversation list, newest first
// unless Config.MessagesOrder says otherwise, keyset by message id.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request, v *vendor) {
	id, ok := convFromPath(w, r, v)
	if !ok {
		return
	}
	limit, cur, present, ok := pageQuery(w, r.URL.Query(), defaultMsgLimit, kindMessage, v.id, id)
	if ok {
		writeList(w, func(b []byte) ([]byte, string) { return s.messagePage(b, v, id, cur, present, limit) })
	}
}

// messagePage appends one page of a conversation's messages to b and
// returns the next cursor.
func (s *Server) messagePage(b []byte, v *vendor, id int64, cur cursor, present bool, limit int) ([]byte, string) {
	v.RLock()
	c := v.convs[id]
	msgs := c.msgs
	n := len(msgs)
	// Messages are in id order: a cursor's position is a binary search.
	pos := func(id int64) int { return sort.Search(n, func(i int) bool { return msgs[i].id >= id }) }
	var from, to, step int // rows are msgs[from], msgs[from+step], ... up to to (exclusive)
	more := false
	if s.cfg.MessagesOrder == OldestFirst {
		from = 0
		if present {
			from = pos(cur.ID + 1)
		}
		to = min(n, from+limit)
		step, more = 1, to < n
	} else {
		end := n
		if present {
			end = pos(cur.ID)
		}
		start := max(0, end-limit)
		from, to, step, more = end-1, start-1, -1, start > 0
	}
	rows, lastID := 0, int64(0)
	for i := from; i != to && i >= 0 && i < n; i += step {
		if rows > 0 {
			b = append(b, ',')
		}
		b = appendMessage(b, c, i)
		rows++
		lastID = msgs[i].id
	}
	v.RUnlock()
	next := ""
	if more && rows > 0 {
		next = encodeCursor(cursor{Kind: kindMessage, Vendor: v.id, Conv: id, ID: lastID})
	}
	s.Add("messages_listed", int64(rows))
	return b, next
}
