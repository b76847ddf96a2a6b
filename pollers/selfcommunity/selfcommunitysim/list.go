package selfcommunitysim

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// limitOffset reads DRF LimitOffsetPagination's parameters the way DRF
// does: a limit that is not a positive integer means the default, a larger
// one is clamped, an offset that is not a non-negative integer means 0.
func (s *Server) limitOffset(q url.Values) (limit, offset int) {
	limit = s.cfg.DefaultLimit
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		limit = min(n, s.cfg.MaxLimit)
	}
	if n, err := strconv.Atoi(q.Get("offset")); err == nil && n > 0 {
		offset = n
	}
	return limit, offset
}

// links are DRF's next and previous for a page at offset of count results.
func (s *Server) links(r *http.Request, limit, offset, count int) (next, prev *string) {
	if offset+limit < count {
		next = s.link(r, limit, offset+limit, false)
	}
	if offset > 0 {
		prev = s.link(r, limit, offset-limit, offset-limit <= 0)
	}
	return next, prev
}

// handleSnippets serves GET /api/v2/pm/: the account's inbox, newest
// last_message_at first, one snippet per thread. Reading backwards from the
// end of the ascending index, a page is O(limit).
func (s *Server) handleSnippets(w http.ResponseWriter, r *http.Request, a *account) {
	limit, offset := s.limitOffset(r.URL.Query())
	s.mu.RLock()
	idx := a.index.Items()
	n := len(idx)
	resp := page[wireSnippet]{Count: n, Results: make([]wireSnippet, 0, max(0, min(limit, n-offset)))}
	for k := offset; k < n && k < offset+limit; k++ {
		t := idx[n-1-k]
		resp.Results = append(resp.Results, t.snippet(t.side(a.user)))
	}
	s.mu.RUnlock()
	resp.Next, resp.Previous = s.links(r, limit, offset, n)
	s.Add("snippets_listed", int64(len(resp.Results)))
	writeJSON(w, http.StatusOK, resp)
}

// snippet is the thread's inbox row for one side. The snippet's sender and
// receiver are those of the last message; the documentation calls sender
// "the creator of the thread" but its examples do not bear that out.
func (t *thread) snippet(side int) wireSnippet {
	last := t.msgs[len(t.msgs)-1]
	return wireSnippet{
		ID: t.id, Headline: headline(last.Message), Message: last.Message,
		Sender: last.Sender, Receiver: last.Receiver,
		CreatedAt: t.createdStr, LastMessageAt: t.lastStr, ThreadStatus: t.status(side),
	}
}

// intParam reads an optional integer parameter; a bad one is DRF's
// validation error.
func intParam(w http.ResponseWriter, q url.Values, name string) (v int64, set, ok bool) {
	raw, set := q.Get(name), q.Has(name)
	if !set {
		return 0, false, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		writeFieldErrors(w, name, "A valid integer is required.")
		return 0, true, false
	}
	return n, true, true
}

// handleThread serves GET /api/v2/pm/ with thread, user or group: the
// messages of one thread, filtered by from_message (inclusive) and
// before_message (exclusive), then paged. Fetching a thread marks it seen
// for the account.
func (s *Server) handleThread(w http.ResponseWriter, r *http.Request, a *account) {
	q := r.URL.Query()
	n := 0
	for _, k := range []string{"thread", "user", "group"} {
		if q.Has(k) {
			n++
		}
	}
	if n > 1 {
		writeFieldErrors(w, "non_field_errors", "Only one of thread, user or group can be given.")
		return
	}
	if q.Has("group") {
		// The groups feature is off in the simulated community.
		writeFieldErrors(w, "group", "Groups are not enabled in this community.")
		return
	}
	var p [4]struct {
		v   int64
		set bool
	}
	for i, name := range []string{"thread", "user", "from_message", "before_message"} {
		var ok bool
		if p[i].v, p[i].set, ok = intParam(w, q, name); !ok {
			return
		}
	}
	threadID, byThread, userID := p[0].v, p[0].set, p[1].v
	from, hasFrom, before, hasBefore := p[2].v, p[2].set, p[3].v, p[3].set
	limit, offset := s.limitOffset(q)

	s.mu.RLock()
	var t *thread
	if byThread {
		t = s.threads[threadID]
		if t != nil && t.side(a.user) < 0 {
			t = nil
		}
	} else if other := s.users[userID]; other != nil {
		t = s.pairs[[2]int64{min(a.user.id, other.id), max(a.user.id, other.id)}]
	}
	if t == nil && (byThread || s.users[userID] == nil) {
		s.mu.RUnlock()
		// 404 for a thread the user does not take part in is a choice: the
		// documentation does not say.
		writeDetail(w, http.StatusNotFound, "Not found.")
		return
	}
	var msgs []*message
	if t != nil {
		msgs = t.msgs
		t.seen[t.side(a.user)].Store(int64(len(msgs)))
	}
	s.mu.RUnlock()

	// msgs is append-only and ordered by id, so the filters are two binary
	// searches, and the slice may be read without the lock.
	lo, hi := 0, len(msgs)
	if hasFrom {
		lo = msgIndex(msgs, from)
	}
	if hasBefore {
		hi = max(lo, msgIndex(msgs, before))
	}
	count := hi - lo
	resp := page[*message]{Count: count, Results: make([]*message, 0, max(0, min(limit, count-offset)))}
	for k := offset; k < count && k < offset+limit; k++ {
		if s.cfg.MessagesNewestFirst {
			resp.Results = append(resp.Results, msgs[hi-1-k])
		} else {
			resp.Results = append(resp.Results, msgs[lo+k])
		}
	}
	resp.Next, resp.Previous = s.links(r, limit, offset, count)
	s.Add("messages_listed", int64(len(resp.Results)))
	writeJSON(w, http.StatusOK, resp)
}

// msgIndex is the position of the first message whose id is >= id.
func msgIndex(msgs []*message, id int64) int {
	i, _ := slices.BinarySearchFunc(msgs, id, func(m *message, id int64) int {
		return cmp.Compare(m.ID, id)
	})
	return i
}

// handleMessage serves GET /api/v2/pm/{id}/: one message of a thread the
// account takes part in.
func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request, a *account) {
	p := r.URL.Path
	id, err := strconv.ParseInt(p[len(pmPath):len(p)-1], 10, 64)
	s.mu.RLock()
	m := s.messages[id]
	if m != nil && s.threads[m.ThreadID].side(a.user) < 0 {
		m = nil
	}
	s.mu.RUnlock()
	if err != nil || m == nil {
		writeDetail(w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(w, http.StatusOK, m)
}
