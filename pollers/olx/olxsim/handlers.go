package olxsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// window reads offset and limit. Offsets past the end give an empty page;
// a negative offset, or a limit out of 1..MaxLimit, is a validation error
// (OLX documents neither case).
func (s *Server) window(v url.Values) (offset, limit int, bad *validationError) {
	offset, limit = 0, s.cfg.DefaultLimit
	if raw := v.Get("offset"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < s.cfg.OffsetBase {
			return 0, 0, &validationError{Field: "offset", Title: "invalid", Detail: "offset must be an integer of at least " + strconv.Itoa(s.cfg.OffsetBase)}
		}
		offset = n - s.cfg.OffsetBase
	}
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > s.cfg.MaxLimit {
			return 0, 0, &validationError{Field: "limit", Title: "invalid", Detail: "limit must be an integer from 1 to " + strconv.Itoa(s.cfg.MaxLimit)}
		}
		limit = n
	}
	return offset, limit, nil
}

func idFilter(v url.Values, name string) (int64, *validationError) {
	raw := v.Get(name)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, &validationError{Field: name, Title: "invalid", Detail: name + " must be a positive integer"}
	}
	return n, nil
}

// handleThreads serves GET /threads: newest activity first, offset/limit.
// Unfiltered, a page is read straight off the end of the activity order;
// with advert_id or interlocutor_id the threads are scanned.
func (s *Server) handleThreads(w http.ResponseWriter, r *http.Request, a *account) {
	v := r.URL.Query()
	offset, limit, bad := s.window(v)
	advert, bad2 := idFilter(v, "advert_id")
	person, bad3 := idFilter(v, "interlocutor_id")
	for _, b := range []*validationError{bad, bad2, bad3} {
		if b != nil {
			writeValidation(w, "Invalid query parameters", *b)
			return
		}
	}
	withAdvert := !s.cfg.OmitAdvertID
	a.RLock()
	order := a.order.Items()
	out := make([]wireThread, 0, min(limit, len(order)))
	if advert == 0 && person == 0 {
		for i := len(order) - 1 - offset; i >= 0 && len(out) < limit; i-- {
			out = append(out, order[i].wire(withAdvert))
		}
	} else {
		skip := offset
		for i := len(order) - 1; i >= 0 && len(out) < limit; i-- {
			t := order[i]
			if (advert != 0 && t.advertID != advert) || (person != 0 && t.interlocutorID != person) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, t.wire(withAdvert))
		}
	}
	a.RUnlock()
	s.Add("threads_listed", int64(len(out)))
	s.writeData(w, http.StatusOK, out)
}

// thread finds the request's thread; a thread of another account is as
// unknown as one that does not exist. Call with a.mu held.
func (a *account) thread(r *http.Request) *thread {
	id, err := strconv.ParseInt(r.PathValue("thread"), 10, 64)
	if err != nil {
		return nil
	}
	return a.threads[id]
}

func threadNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "Not Found", "thread "+strconv.Quote(r.PathValue("thread"))+" not found")
}

// handleThread serves GET /threads/{id}.
func (s *Server) handleThread(w http.ResponseWriter, r *http.Request, a *account) {
	a.RLock()
	t := a.thread(r)
	var wt wireThread
	if t != nil {
		wt = t.wire(true)
	}
	a.RUnlock()
	if t == nil {
		threadNotFound(w, r)
		return
	}
	s.writeData(w, http.StatusOK, wt)
}

// handleMessages serves GET /threads/{id}/messages, oldest first (or newest
// first with Config.MessagesNewestFirst), offset/limit.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request, a *account) {
	offset, limit, bad := s.window(r.URL.Query())
	if bad != nil {
		writeValidation(w, "Invalid query parameters", *bad)
		return
	}
	a.RLock()
	t := a.thread(r)
	var out []wireMessage
	if t != nil {
		n := len(t.msgs)
		out = make([]wireMessage, 0, max(0, min(limit, n-offset)))
		for k := offset; k < n && len(out) < limit; k++ {
			i := k
			if s.cfg.MessagesNewestFirst {
				i = n - 1 - k
			}
			out = append(out, t.msgs[i].wire())
		}
	}
	a.RUnlock()
	if t == nil {
		threadNotFound(w, r)
		return
	}
	s.Add("messages_listed", int64(len(out)))
	s.writeData(w, http.StatusOK, out)
}

// handleMessage serves GET /threads/{id}/messages/{msg}.
func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request, a *account) {
	id, err := strconv.ParseInt(r.PathValue("message"), 10, 64)
	a.RLock()
	t := a.thread(r)
	var wm wireMessage
	found := false
	if t != nil && err == nil {
		// Message ids grow, so a thread's messages are sorted by id.
		if i, ok := slices.BinarySearchFunc(t.msgs, id, func(m *message, id int64) int {
			return int(min(max(m.id-id, -1), 1))
		}); ok {
			wm, found = t.msgs[i].wire(), true
		}
	}
	a.RUnlock()
	switch {
	case t == nil:
		threadNotFound(w, r)
	case !found:
		writeError(w, http.StatusNotFound, "Not Found", "message "+strconv.Quote(r.PathValue("message"))+" not found")
	default:
		s.writeData(w, http.StatusOK, wm)
	}
}

const maxPostBytes = 1 << 20

// sendInput is the body of POST /threads/{id}/messages, as third-party
// clients send it.
type sendInput struct {
	Text        string `json:"text"`
	Attachments []struct {
		URL string `json:"url"`
	} `json:"attachments"`
}

// handleSend serves POST /threads/{id}/messages: the account's user
// answers. 200 with the new message in the envelope is a choice; OLX
// documents neither status nor body.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request, a *account) {
	var in sendInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPostBytes)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request", "the body must be a JSON object")
		return
	}
	if strings.TrimSpace(in.Text) == "" {
		writeValidation(w, "Message could not be sent", validationError{Field: "text", Title: "required", Detail: "text must not be empty"})
		return
	}
	var files []Attachment
	for _, f := range in.Attachments {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			writeValidation(w, "Message could not be sent", validationError{Field: "attachments", Title: "invalid", Detail: "attachments need absolute http(s) URLs"})
			return
		}
		files = append(files, Attachment{Name: pathBase(u.Path), URL: f.URL})
	}
	a.Lock()
	t := a.thread(r)
	var wm wireMessage
	if t != nil {
		m, _ := s.appendMessage(a, t, Owner, in.Text, files, time.Time{}, true) // Owner is valid
		wm = m.wire()
	}
	a.Unlock()
	if t == nil {
		threadNotFound(w, r)
		return
	}
	s.writeData(w, http.StatusOK, wm)
}

func pathBase(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if p == "" {
		return "attachment"
	}
	return p
}

// commandInput is the body of POST /threads/{id}/commands.
type commandInput struct {
	Command     string `json:"command"`
	IsFavourite *bool  `json:"is_favourite"`
}

// handleCommand serves POST /threads/{id}/commands: mark-as-read,
// set-favourite (with is_favourite, default true) and unset-favourite,
// which one client uses instead; 204 on success, 400 for anything else.
func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request, a *account) {
	var in commandInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPostBytes)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request", "the body must be a JSON object")
		return
	}
	switch in.Command {
	case "mark-as-read", "set-favourite", "unset-favourite":
	default:
		writeValidation(w, "Unknown command", validationError{Field: "command", Title: "invalid", Detail: "command must be mark-as-read, set-favourite or unset-favourite"})
		return
	}
	a.Lock()
	t := a.thread(r)
	if t != nil {
		switch in.Command {
		case "mark-as-read":
			t.markRead()
		case "set-favourite":
			t.favourite = in.IsFavourite == nil || *in.IsFavourite
		case "unset-favourite":
			t.favourite = false
		}
	}
	a.Unlock()
	if t == nil {
		threadNotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
