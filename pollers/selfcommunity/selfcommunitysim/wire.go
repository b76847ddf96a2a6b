package selfcommunitysim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// The wire types mirror selfcommunity.md §3. What never changes once
// written (users, messages, formatted dates) is built once and shared
// between responses, so serving a page is mostly copying pointers.

// wireUser is the subset of SelfCommunity's User that private messages
// carry.
type wireUser struct {
	ID         int64   `json:"id"`
	Username   string  `json:"username"`
	RealName   string  `json:"real_name"`
	Avatar     *string `json:"avatar"`
	Status     string  `json:"status"` // a approved, b blocked, d soft-deleted, u hard-deleted
	DateJoined string  `json:"date_joined"`
	ExtID      *int64  `json:"ext_id"`
}

// message is both the stored message and its JSON form (Private Message
// Thread schema). It is immutable once appended to a thread.
type message struct {
	ID        int64     `json:"id"`
	ThreadID  int64     `json:"thread_id"`
	Message   string    `json:"message"`
	Sender    *wireUser `json:"sender"`
	Receiver  *wireUser `json:"receiver"`
	CreatedAt string    `json:"created_at"`
	Status    string    `json:"status"`
	File      *wireFile `json:"file"`

	at   time.Time
	side int // index of the sender in thread.users
}

// wireFile is never set: the simulator does not store attachments, but the
// field is there, null, as on a message without one.
type wireFile struct {
	UUID     string `json:"uuid"`
	Filename string `json:"filename"`
	Filesize int64  `json:"filesize"`
	Mimetype string `json:"mimetype"`
	URL      string `json:"url"`
}

// wireSnippet is a Private Message Snippet: one row of the inbox.
type wireSnippet struct {
	ID            int64     `json:"id"`
	Headline      string    `json:"headline"`
	Message       string    `json:"message"`
	Sender        *wireUser `json:"sender"`
	Receiver      *wireUser `json:"receiver"`
	CreatedAt     string    `json:"created_at"`
	LastMessageAt string    `json:"last_message_at"`
	ThreadStatus  string    `json:"thread_status"`
}

// page is DRF's limit/offset envelope.
type page[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// headlineRunes bounds the preview text of a snippet; the real length is
// not documented.
const headlineRunes = 100

func headline(text string) string {
	n := 0
	for i := range text {
		if n == headlineRunes {
			return text[:i] + "…"
		}
		n++
	}
	return text
}

// formatTime writes t the way Django REST framework does: Python's
// isoformat in the server's zone (microseconds only when not zero), with
// "Z" for UTC.
func (s *Server) formatTime(t time.Time) string {
	layout := "2006-01-02T15:04:05.000000-07:00"
	if t.Nanosecond()/1000 == 0 {
		layout = "2006-01-02T15:04:05-07:00"
	}
	out := t.In(s.loc).Format(layout)
	if v, ok := strings.CutSuffix(out, "+00:00"); ok {
		out = v + "Z"
	}
	return out
}

// writeJSON writes a response the way Django REST framework does, with
// DRF's server error body if v cannot be encoded.
var writeJSON = sim.JSON{EncodingError: `{"detail":"A server error occurred."}`}.Write

// writeDetail writes DRF's error body for authentication, permission,
// throttling and not-found errors; the API documents no error body.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

// writeFieldErrors writes DRF's validation error body: field -> messages.
func writeFieldErrors(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string][]string{field: {msg}})
}

// faultError is the DRF-style body of an injected fault or a scheduled
// one: for 429, DRF's throttling detail, whose wait is the Retry-After
// already in w's header (1 second when there is none or it is not whole
// seconds).
func faultError(w http.ResponseWriter, status int, _ string) {
	detail := "Injected fault: " + strconv.Itoa(status) + " " + http.StatusText(status) + "."
	if status == http.StatusTooManyRequests {
		secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
		if err != nil || secs < 1 {
			secs = 1
		}
		detail = throttled(secs)
	}
	writeDetail(w, status, detail)
}
