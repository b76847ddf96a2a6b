package olxsim

import (
	"net/http"

	"github.com/threadsync/threadsync/pollers/sim"
)

// The wire types mirror olx.md §3.

type wireThread struct {
	ID             int64  `json:"id"`
	AdvertID       *int64 `json:"advert_id,omitempty"` // nil only with Config.OmitAdvertID
	InterlocutorID int64  `json:"interlocutor_id"`
	TotalCount     int    `json:"total_count"`
	UnreadCount    int    `json:"unread_count"`
	CreatedAt      string `json:"created_at"`
	IsFavourite    bool   `json:"is_favourite"`
}

type wireAttachment struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

type wireMessage struct {
	ID          int64            `json:"id"`
	ThreadID    int64            `json:"thread_id"`
	CreatedAt   string           `json:"created_at"`
	Type        string           `json:"type"`
	Text        string           `json:"text"`
	IsRead      bool             `json:"is_read"`
	Attachments []wireAttachment `json:"attachments"`
	CVs         []struct{}       `json:"cvs"`
}

var noCVs = []struct{}{}

// wire builds the JSON form of the thread. Call with the account's mu
// held; the result points only at fields that never change.
func (t *thread) wire(withAdvert bool) wireThread {
	w := wireThread{
		ID: t.id, InterlocutorID: t.interlocutorID, TotalCount: len(t.msgs),
		UnreadCount: t.unread, CreatedAt: t.createdStr, IsFavourite: t.favourite,
	}
	if withAdvert {
		w.AdvertID = &t.advertID
	}
	return w
}

// wire copies the message, whose read flag may change later. Call with the
// account's mu held.
func (m *message) wire() wireMessage {
	return wireMessage{
		ID: m.id, ThreadID: m.threadID, CreatedAt: m.atStr, Type: m.from.String(),
		Text: m.text, IsRead: m.read, Attachments: m.attachments, CVs: noCVs,
	}
}

// errorBody is the error envelope third-party OLX clients parse; OLX's
// own reference shows no error body for these endpoints.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Status     int               `json:"status"`
	Title      string            `json:"title"`
	Detail     string            `json:"detail"`
	Validation []validationError `json:"validation,omitempty"`
}

type validationError struct {
	Field  string `json:"field"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// oauthError is how OLX's OAuth layer words a refused token.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	HumanTitle  string `json:"error_human_title"`
}

type dataEnvelope struct {
	Data any `json:"data"`
}

// writeJSON writes a response the way OLX does, with an error body in
// OLX's shape if v cannot be encoded.
var writeJSON = sim.JSON{EncodingError: `{"error":{"status":500,"title":"Internal Server Error","detail":"encoding response"}}`}.Write

// writeData answers with v in the data envelope, or bare with
// Config.BareArray.
func (s *Server) writeData(w http.ResponseWriter, status int, v any) {
	if s.cfg.BareArray {
		writeJSON(w, status, v)
		return
	}
	writeJSON(w, status, dataEnvelope{Data: v})
}

func writeError(w http.ResponseWriter, status int, title, detail string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Status: status, Title: title, Detail: detail}})
}

func writeValidation(w http.ResponseWriter, detail string, errs ...validationError) {
	writeJSON(w, http.StatusBadRequest, errorBody{Error: errorDetail{
		Status: http.StatusBadRequest, Title: "Validation Failed", Detail: detail, Validation: errs,
	}})
}
