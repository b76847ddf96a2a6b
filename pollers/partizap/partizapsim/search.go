package partizapsim

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// searchQuery reads q (at least 2 characters, partizap.md §2.2 [C]) and the
// page parameters of a search.
func searchQuery(w http.ResponseWriter, q url.Values, vendorID, convID int64, def int) (term string, limit, off int, ok bool) {
	term = strings.TrimSpace(q.Get("q"))
	if utf8.RuneCountInString(term) < 2 {
		writeValidation(w, "q", "The q field must be at least 2 characters.")
		return "", 0, 0, false
	}
	limit, cur, present, ok := pageQuery(w, q, def, kindSearch, vendorID, convID)
	if ok && present && cur.Query != term {
		invalidCursor(w)
		ok = false
	}
	return term, limit, cur.Off, ok
}

func matches(m *message, lowerTerm string) bool {
	return strings.Contains(strings.ToLower(m.text), lowerTerm)
}

// handleSearchConversation serves GET
// /vendor/conversations/{id}/messages/search: the conversation's messages
// containing q (case-insensitive), newest first.
func (s *Server) handleSearchConversation(w http.ResponseWriter, r *http.Request, v *vendor) {
	id, ok := convFromPath(w, r, v)
	if !ok {
		return
	}
	term, limit, off, ok := searchQuery(w, r.URL.Query(), v.id, id, defaultMsgLimit)
	if !ok {
		return
	}
	lower := strings.ToLower(term)
	b := []byte(`{"data":[`)
	v.RLock()
	c := v.convs[id]
	skipped, rows, more := 0, 0, false
	for i := len(c.msgs) - 1; i >= 0; i-- {
		if !matches(c.msgs[i], lower) {
			continue
		}
		if skipped < off {
			skipped++
			continue
		}
		if rows == limit {
			more = true
			break
		}
		if rows > 0 {
			b = append(b, ',')
		}
		b = appendMessage(b, c, i)
		rows++
	}
	v.RUnlock()
	next := ""
	if more {
		next = encodeCursor(cursor{Kind: kindSearch, Vendor: v.id, Conv: id, Off: off + limit, Query: term})
	}
	writeBody(w, http.StatusOK, appendMeta(b, next))
}

// handleSearchAll serves GET /vendor/messages/search: messages of every
// conversation containing q, newest first, each with its conversation's
// companion and product. It scans everything: search is not what threadsync
// polls.
func (s *Server) handleSearchAll(w http.ResponseWriter, r *http.Request, v *vendor) {
	term, limit, off, ok := searchQuery(w, r.URL.Query(), v.id, 0, defaultGlobalLimit)
	if !ok {
		return
	}
	lower := strings.ToLower(term)
	type hit struct {
		c *conv
		i int
	}
	var hits []hit
	v.RLock()
	defer v.RUnlock()
	for _, c := range v.byID {
		for i, m := range c.msgs {
			if matches(m, lower) {
				hits = append(hits, hit{c, i})
			}
		}
	}
	// Newest first: message ids grow with time.
	sortHits := func(a, b hit) int {
		ai, bi := a.c.msgs[a.i].id, b.c.msgs[b.i].id
		switch {
		case ai > bi:
			return -1
		case ai < bi:
			return 1
		}
		return 0
	}
	slices.SortFunc(hits, sortHits)
	b := []byte(`{"data":[`)
	end := min(len(hits), off+limit)
	for k := off; k < end; k++ {
		h := hits[k]
		if k > off {
			b = append(b, ',')
		}
		m := appendMessage(nil, h.c, h.i)
		b = append(b, m[:len(m)-1]...)
		b = append(b, `,"conversation":{"id":`...)
		b = s.appendID(b, h.c.id)
		b = append(b, `,"companion":{"id":`...)
		b = s.appendID(b, h.c.buyer.id)
		b = append(b, `,"name":`...)
		b = appendString(b, h.c.buyer.name)
		b = append(b, `},"product":{"id":`...)
		b = s.appendID(b, h.c.product.id)
		b = append(b, `,"title":`...)
		b = appendString(b, h.c.product.title)
		b = append(b, "}}}"...)
	}
	next := ""
	if end < len(hits) {
		next = encodeCursor(cursor{Kind: kindSearch, Vendor: v.id, Off: end, Query: term})
	}
	writeBody(w, http.StatusOK, appendMeta(b, next))
}
