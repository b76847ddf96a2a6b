package hubspotsim

import (
	"encoding/base64"
	"html"
	"net/http"
	"strconv"
)

// Message cursors are base64 of the last entry's position in the thread's
// history. Entries are appended (explicit past times in tests aside), so a
// position stays valid while new messages arrive during a walk.
func messageCursor(pos int) string {
	return base64.StdEncoding.EncodeToString([]byte("m" + strconv.Itoa(pos)))
}

func decodeMessageCursor(s string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'm' {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[1:]))
	return n, err == nil && n >= 0
}

// handleMessages serves GET .../threads/{threadId}/messages: the thread's
// history, every entry type, newest first unless sort=createdAt.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request, a *account) {
	v := r.URL.Query()
	limit := DefaultLimit
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			s.writeError(w, http.StatusBadRequest, catValidation, "Invalid input: limit must be a positive integer", errorDetail{Message: "limit must be a positive integer", In: "limit"})
			return
		}
		limit = min(n, MaxLimit)
	}
	asc := false
	switch v.Get("sort") {
	case "", "-createdAt":
	case "createdAt":
		asc = true
	default:
		s.writeError(w, http.StatusBadRequest, catValidation, "Invalid input: sort must be createdAt or -createdAt", errorDetail{Message: "sort must be createdAt or -createdAt", In: "sort"})
		return
	}
	archivedOnly := false
	if b := v.Get("archived"); b != "" {
		var err error
		if archivedOnly, err = strconv.ParseBool(b); err != nil {
			s.writeError(w, http.StatusBadRequest, catValidation, "Invalid input: archived must be true or false", errorDetail{Message: "archived must be true or false", In: "archived"})
			return
		}
	}
	pos, hasAfter := -1, false
	if c := v.Get("after"); c != "" {
		var ok bool
		if pos, ok = decodeMessageCursor(c); !ok {
			s.writeError(w, http.StatusBadRequest, catValidation, "Invalid input: after is not a paging cursor", errorDetail{Message: "after is not a paging cursor", In: "after"})
			return
		}
		hasAfter = true
	}

	id := r.PathValue("threadId")
	a.RLock()
	t := a.threads[id]
	if t == nil {
		a.RUnlock()
		s.writeError(w, http.StatusNotFound, catNotFound, "Thread "+strconv.Quote(id)+" not found")
		return
	}
	resp := listResponse[*wireMessage]{Results: make([]*wireMessage, 0, min(limit, len(t.msgs)))}
	more, last := false, 0
	// The simulator keeps no archived messages: archived=true lists none.
	if !archivedOnly {
		n := len(t.msgs)
		if asc {
			i := 0
			if hasAfter {
				i = pos + 1
			}
			for ; i < n && len(resp.Results) < limit; i++ {
				resp.Results, last = append(resp.Results, t.msgs[i].wire), i
			}
			more = i < n
		} else {
			i := n - 1
			if hasAfter {
				i = min(pos, n) - 1
			}
			for ; i >= 0 && len(resp.Results) < limit; i-- {
				resp.Results, last = append(resp.Results, t.msgs[i].wire), i
			}
			more = i >= 0
		}
	}
	a.RUnlock()
	if more && len(resp.Results) > 0 {
		after := messageCursor(last)
		resp.Paging = &wirePaging{Next: wireNext{After: after, Link: link(r, after)}}
	}
	s.Add("messages_listed", int64(len(resp.Results)))
	writeJSON(w, http.StatusOK, resp)
}

// handleOriginal serves GET .../messages/{messageId}/original-content: the
// whole text of a message the list truncated. The body's shape is
// inferred (text and richText, as in the message).
func (s *Server) handleOriginal(w http.ResponseWriter, r *http.Request, a *account) {
	threadID, msgID := r.PathValue("threadId"), r.PathValue("messageId")
	a.RLock()
	m := a.msgs[msgID]
	var t *thread
	if m != nil {
		t = a.threads[threadID]
	}
	a.RUnlock()
	if m == nil || t == nil || m.wire.ConversationsThreadID != t.idStr {
		s.writeError(w, http.StatusNotFound, catNotFound, "Message "+strconv.Quote(msgID)+" not found in thread "+strconv.Quote(threadID))
		return
	}
	writeJSON(w, http.StatusOK, wireOriginal{Text: m.text, RichText: "<p>" + html.EscapeString(m.text) + "</p>"})
}
