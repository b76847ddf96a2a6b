package miraklsim

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

const (
	defaultLimit = 50
	// maxLimit: Mirakl's SDK says seek endpoints take up to 100. Whether M11
	// clamps or refuses more is not documented; refusing catches clients
	// that would silently get smaller pages than they think.
	maxLimit = 100
)

// listQuery is an M11 query as a page token carries it.
type listQuery struct {
	Since        string   `json:"s,omitempty"` // RFC 3339, as received
	Limit        int      `json:"l"`
	WithMessages bool     `json:"m,omitempty"`
	EntityType   string   `json:"et,omitempty"`
	EntityIDs    []string `json:"ei,omitempty"`

	since   time.Time
	sinceNs int64
	ids     map[string]bool
}

// pageToken is the opaque page_token: the original query plus the keyset
// position. Forward tokens continue after the key; backward ones return the
// rows before it. A token without a key starts from the beginning.
type pageToken struct {
	V    int       `json:"v"`
	Shop string    `json:"sh"`
	Q    listQuery `json:"q"`
	Back bool      `json:"b,omitempty"`
	Key  bool      `json:"k,omitempty"`
	Ns   int64     `json:"t,omitempty"`
	ID   string    `json:"id,omitempty"`
}

const tokenVersion = 1

func encodeToken(t pageToken) string {
	t.V = tokenVersion
	return sim.EncodeToken(t)
}

func decodeToken(s, shopID string) (pageToken, string) {
	var t pageToken
	if !sim.DecodeToken(s, &t) || t.V != tokenVersion || (t.Back && !t.Key) {
		return t, "invalid page_token"
	}
	if t.Shop != shopID {
		return t, "page_token belongs to another shop"
	}
	if msg := t.Q.prepare(); msg != "" {
		return t, "invalid page_token: " + msg
	}
	return t, ""
}

// prepare validates the query and fills the derived fields.
func (q *listQuery) prepare() string {
	if q.Limit < 1 || q.Limit > maxLimit {
		return "limit must be between 1 and " + strconv.Itoa(maxLimit)
	}
	if len(q.EntityIDs) > 0 && q.EntityType == "" {
		return "entity_id requires entity_type"
	}
	q.sinceNs = math.MinInt64
	if q.Since != "" {
		t, err := time.Parse(time.RFC3339Nano, q.Since)
		if err != nil {
			return "updated_since must be an RFC 3339 date-time"
		}
		q.since = t
		q.sinceNs = t.UnixNano()
	}
	q.ids = nil
	if len(q.EntityIDs) > 0 {
		q.ids = make(map[string]bool, len(q.EntityIDs))
		for _, id := range q.EntityIDs {
			q.ids[id] = true
		}
	}
	return ""
}

// parseListQuery reads a first-page M11 query.
func parseListQuery(v url.Values) (listQuery, string) {
	q := listQuery{Limit: defaultLimit, Since: v.Get("updated_since"), EntityType: v.Get("entity_type")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, "limit must be an integer"
		}
		q.Limit = n
	}
	if s := v.Get("with_messages"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, "with_messages must be true or false"
		}
		q.WithMessages = b
	}
	for _, list := range v["entity_id"] {
		for id := range strings.SplitSeq(list, ",") {
			if id = strings.TrimSpace(id); id != "" {
				q.EntityIDs = append(q.EntityIDs, id)
			}
		}
	}
	// channel_codes and sort are accepted and ignored: simulated threads have
	// no sales channel, and the only order is the documented keyset one.
	return q, q.prepare()
}

func (q *listQuery) match(t *thread) bool {
	if t.updNs < q.sinceNs {
		return false
	}
	if q.EntityType != "" && t.entityType != q.EntityType {
		return false
	}
	return q.ids == nil || q.ids[t.entityID]
}

// handleList serves M11.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, sh *shop) {
	v := r.URL.Query()
	var tok pageToken
	if raw := v.Get("page_token"); raw != "" {
		var msg string
		if tok, msg = decodeToken(raw, sh.id); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
	} else {
		q, msg := parseListQuery(v)
		if msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		tok = pageToken{Shop: sh.id, Q: q}
	}

	sh.RLock()
	resp := sh.page(&tok)
	sh.RUnlock()
	s.Add("listed", int64(len(resp.Data)))
	writeJSON(w, http.StatusOK, resp)
}

// page builds one M11 page. Call with sh.mu read-locked.
//
// A forward page scans from max(first row >= updated_since, first row after
// the key) and takes up to limit matching rows; with an index sorted by
// (date_updated, id) that is O(log n + limit) for the queries a poller sends
// (entity filters skip non-matching rows one by one). One more matching row
// decides whether next_page_token is needed.
func (sh *shop) page(tok *pageToken) listResponse {
	q := &tok.Q
	idx := sh.index.Items()
	from := 0
	if q.Since != "" {
		from = sh.index.Search(q.sinceNs, "")
	}
	resp := listResponse{Data: make([]wireThread, 0, min(q.Limit, len(idx)))}
	var rows []*thread

	if !tok.Back {
		start := from
		if tok.Key {
			start = max(start, sh.index.After(tok.Ns, tok.ID))
		}
		i := start
		for ; i < len(idx) && len(rows) < q.Limit; i++ {
			if q.match(idx[i]) {
				rows = append(rows, idx[i])
			}
		}
		if len(rows) > 0 && sh.anyMatch(q, i, len(idx)) {
			last := rows[len(rows)-1]
			resp.NextPageToken = encodeToken(pageToken{Shop: tok.Shop, Q: *q, Key: true, Ns: last.updNs, ID: last.id})
		}
		if tok.Key && len(rows) > 0 && sh.anyMatch(q, from, start) {
			first := rows[0]
			resp.PreviousPageToken = encodeToken(pageToken{Shop: tok.Shop, Q: *q, Back: true, Key: true, Ns: first.updNs, ID: first.id})
		}
	} else {
		end := max(from, sh.index.Search(tok.Ns, tok.ID))
		i := end - 1
		for ; i >= from && len(rows) < q.Limit; i-- {
			if q.match(idx[i]) {
				rows = append(rows, idx[i])
			}
		}
		slices.Reverse(rows)
		if len(rows) == 0 {
			// Nothing matches before the key any more, so the walk from the
			// start is the walk from the key.
			resp.NextPageToken = encodeToken(pageToken{Shop: tok.Shop, Q: *q})
		} else {
			if sh.anyMatch(q, end, len(idx)) {
				last := rows[len(rows)-1]
				resp.NextPageToken = encodeToken(pageToken{Shop: tok.Shop, Q: *q, Key: true, Ns: last.updNs, ID: last.id})
			}
			if sh.anyMatch(q, from, i+1) {
				first := rows[0]
				resp.PreviousPageToken = encodeToken(pageToken{Shop: tok.Shop, Q: *q, Back: true, Key: true, Ns: first.updNs, ID: first.id})
			}
		}
	}

	for _, t := range rows {
		resp.Data = append(resp.Data, t.wire(q.WithMessages, withMessagesLimit))
	}
	return resp
}

// anyMatch reports whether a row in index[from:to] matches the query.
func (sh *shop) anyMatch(q *listQuery, from, to int) bool {
	if q.EntityType == "" {
		return from < to // since is already applied through from
	}
	for i := from; i < to; i++ {
		if q.match(sh.index.At(i)) {
			return true
		}
	}
	return false
}
