package hubspotsim

import (
	"encoding/base64"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultLimit is the page size without limit, as HubSpot's SDKs say.
	DefaultLimit = 100
	// MaxLimit caps limit. HubSpot caps it at a value it does not
	// document; capping (rather than refusing) is what its SDKs describe,
	// and 500 is this simulator's choice.
	MaxLimit = 500
)

// threadQuery is a parsed GET .../threads query.
type threadQuery struct {
	limit    int
	byLatest bool // sort=latestMessageTimestamp, else id
	desc     bool
	since    int64 // latestMessageTimestampAfter as UnixNano; minKey when absent
	inboxes  map[string]bool
	contact  string
	status   string
	archived bool
	tickets  bool
	after    bool
	afterNs  int64 // the cursor's key: (latest, id) or (0, id)
	afterID  int64
}

// badParam is a 400 about one query parameter.
type badParam struct{ in, msg string }

// parseThreadQuery applies the rules of hubspot.md §2.1.
func parseThreadQuery(v url.Values) (threadQuery, *badParam) {
	q := threadQuery{limit: DefaultLimit, since: minKey}
	var bad *badParam
	fail := func(in, msg string) {
		if bad == nil {
			bad = &badParam{in, msg}
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fail("limit", "limit must be a positive integer")
		}
		q.limit = min(n, MaxLimit)
	}
	if sorts := v["sort"]; len(sorts) > 0 {
		sort := sorts[0]
		q.desc = strings.HasPrefix(sort, "-")
		switch strings.TrimPrefix(sort, "-") {
		case "id":
		case "latestMessageTimestamp":
			q.byLatest = true
		default:
			fail("sort", "sort must be id or latestMessageTimestamp, optionally prefixed with -")
		}
	}
	if s := v.Get("latestMessageTimestampAfter"); s != "" {
		t, ok := parseTime(s)
		if !ok {
			fail("latestMessageTimestampAfter", "latestMessageTimestampAfter must be an ISO 8601 date-time")
		}
		q.since = t.UnixNano()
	} else if q.byLatest {
		fail("latestMessageTimestampAfter", "latestMessageTimestampAfter is required when sorting by latestMessageTimestamp")
	}
	for _, list := range v["inboxId"] {
		for id := range strings.SplitSeq(list, ",") {
			if _, err := strconv.ParseUint(id, 10, 63); err != nil {
				fail("inboxId", "inboxId must be an integer")
			}
			if q.inboxes == nil {
				q.inboxes = map[string]bool{}
			}
			q.inboxes[id] = true
		}
	}
	if s := v.Get("associatedContactId"); s != "" {
		if _, err := strconv.ParseUint(s, 10, 63); err != nil {
			fail("associatedContactId", "associatedContactId must be an integer")
		}
		q.contact = s
		if q.inboxes != nil {
			fail("inboxId", "inboxId cannot be used together with associatedContactId")
		}
		if !v.Has("threadStatus") {
			fail("threadStatus", "threadStatus is required with associatedContactId")
		}
	}
	if q.desc && q.contact == "" {
		fail("sort", "descending sort is only allowed when filtering by associatedContactId")
	}
	if v.Has("threadStatus") {
		q.status = v.Get("threadStatus")
		if q.status != StatusOpen && q.status != StatusClosed {
			fail("threadStatus", "threadStatus must be OPEN or CLOSED")
		}
	}
	if s := v.Get("archived"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			fail("archived", "archived must be true or false")
		}
		q.archived = b
	}
	for _, a := range v["association"] {
		if a != "TICKET" {
			fail("association", "association must be TICKET")
		}
		q.tickets = true
	}
	if s := v.Get("after"); s != "" {
		var ok bool
		if q.afterNs, q.afterID, ok = decodeThreadCursor(s, q.byLatest); !ok {
			fail("after", "after is not a paging cursor of this query")
		}
		q.after = true
	}
	return q, bad
}

// parseTime reads ISO 8601 date-times and, as HubSpot also takes them,
// epoch milliseconds.
func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), true
	}
	return time.Time{}, false
}

// Thread cursors are base64 of the last row's key: "<id>" in id order,
// "<latestMessageTimestamp>:<id>" in latestMessageTimestamp order, like the
// cursors HubSpot hands out.
func threadCursor(t *thread, byLatest bool) string {
	s := t.idStr
	if byLatest {
		s = formatTime(time.Unix(0, t.latestNs)) + ":" + s
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func decodeThreadCursor(s string, byLatest bool) (ns, id int64, ok bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return 0, 0, false
	}
	raw := string(b)
	if byLatest {
		i := strings.LastIndexByte(raw, ':')
		if i < 0 {
			return 0, 0, false
		}
		t, err := time.Parse(time.RFC3339Nano, raw[:i])
		if err != nil {
			return 0, 0, false
		}
		ns, raw = t.UnixNano(), raw[i+1:]
	}
	id, err = strconv.ParseInt(raw, 10, 64)
	return ns, id, err == nil
}

func (q *threadQuery) match(t *thread) bool {
	return t.latestNs >= q.since &&
		(q.inboxes == nil || q.inboxes[t.inbox]) &&
		(q.contact == "" || t.contact == q.contact) &&
		(q.status == "" || t.status == q.status)
}

// handleThreads serves GET /conversations/v3/conversations/threads.
func (s *Server) handleThreads(w http.ResponseWriter, r *http.Request, a *account) {
	q, bad := parseThreadQuery(r.URL.Query())
	if bad != nil {
		s.writeError(w, http.StatusBadRequest, catValidation, "Invalid input: "+bad.msg, errorDetail{Message: bad.msg, In: bad.in})
		return
	}
	a.RLock()
	rows, more := a.page(&q)
	resp := listResponse[wireThread]{Results: make([]wireThread, len(rows))}
	for i, t := range rows {
		resp.Results[i] = t.wire(q.tickets)
	}
	if more {
		after := threadCursor(rows[len(rows)-1], q.byLatest)
		resp.Paging = &wirePaging{Next: wireNext{After: after, Link: link(r, after)}}
	}
	a.RUnlock()
	s.Add("listed", int64(len(rows)))
	writeJSON(w, http.StatusOK, resp)
}

// page selects one page of threads. Call with a.mu read-locked.
//
// Ascending pages scan from max(first row >= latestMessageTimestampAfter,
// first row after the cursor) in the index of the sort, so the queries a
// poller sends cost O(log n + limit); inbox, contact and status filters
// skip non-matching rows one by one, as does latestMessageTimestampAfter
// in id order. Descending pages (allowed only with associatedContactId)
// scan backwards. One more matching row decides whether paging is sent.
func (a *account) page(q *threadQuery) (rows []*thread, more bool) {
	k := 0
	if q.archived {
		k = 1
	}
	x := &a.byID[k]
	lower := func(_, id int64) int { return x.Search(id, 0) }
	if q.byLatest {
		x = &a.byLatest[k]
		lower = x.Search
	}
	idx := x.Items()
	rows = make([]*thread, 0, min(q.limit, len(idx)))
	if !q.desc {
		start := 0
		if q.byLatest {
			start = lower(q.since, minKey)
		}
		if q.after {
			start = max(start, lower(q.afterNs, q.afterID+1))
			if q.afterID == math.MaxInt64 {
				start = len(idx)
			}
		}
		i := start
		for ; i < len(idx) && len(rows) < q.limit; i++ {
			if q.match(idx[i]) {
				rows = append(rows, idx[i])
			}
		}
		for ; i < len(idx) && len(rows) > 0; i++ {
			if q.match(idx[i]) {
				return rows, true
			}
		}
		return rows, false
	}
	end := len(idx)
	if q.after {
		end = lower(q.afterNs, q.afterID)
	}
	i := end - 1
	for ; i >= 0 && len(rows) < q.limit; i-- {
		if q.match(idx[i]) {
			rows = append(rows, idx[i])
		}
	}
	for ; i >= 0 && len(rows) > 0; i-- {
		if q.match(idx[i]) {
			return rows, true
		}
	}
	return rows, false
}

// link is paging.next.link: the same request with the new cursor, on the
// host and path the client used (a prefix stripped by a mux included).
func link(r *http.Request, after string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path, _, _ := strings.Cut(r.RequestURI, "?")
	v := r.URL.Query()
	v.Set("after", after)
	return scheme + "://" + r.Host + path + "?" + v.Encode()
}
