package partizapsim

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	maxTextBody  = 1 << 20
	maxImageBody = 16 << 20
)

// writable finds the conversation a write goes to, once the write passed
// the CSRF check (419 otherwise).
func writable(w http.ResponseWriter, r *http.Request, v *vendor) (int64, bool) {
	if !csrfOK(r) {
		writeError(w, 419, "CSRF token mismatch.")
		return 0, false
	}
	return convFromPath(w, r, v)
}

// handleSend serves POST /vendor/conversations/{id}/messages (assumed by
// partizap.md, body {"text": "..."}): the vendor writes. Like every write
// it needs the CSRF header. It answers 201 with {"data": Message}.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request, v *vendor) {
	id, ok := writable(w, r, v)
	if !ok {
		return
	}
	var in struct {
		Text string `json:"text"`
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTextBody))
		if err != nil || json.Unmarshal(body, &in) != nil {
			writeError(w, http.StatusBadRequest, "The request body is not valid JSON.")
			return
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxTextBody)
		in.Text = r.FormValue("text")
	}
	if strings.TrimSpace(in.Text) == "" {
		writeValidation(w, "text", "The text field is required.")
		return
	}
	b := []byte(`{"data":`)
	v.Lock()
	c := v.convs[id]
	_, err := s.appendMessage(v, c, Vendor, in.Text, "", time.Time{})
	if err == nil {
		b = appendMessage(b, c, len(c.msgs)-1)
	}
	v.Unlock()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, http.StatusCreated, append(b, '}'))
}

// handleSendImage serves POST /vendor/conversations/{id}/messages/image
// (partizap.md §2 [C]): multipart/form-data with the file in "image". The
// documented response body is empty: {}.
func (s *Server) handleSendImage(w http.ResponseWriter, r *http.Request, v *vendor) {
	id, ok := writable(w, r, v)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxImageBody)
	if err := r.ParseMultipartForm(maxImageBody); err != nil {
		writeValidation(w, "image", "The image field is required.")
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	if len(r.MultipartForm.File["image"]) == 0 {
		writeValidation(w, "image", "The image field is required.")
		return
	}
	v.Lock()
	c := v.convs[id]
	url := "https://s3.partizap.invalid/chat/" + strconv.FormatInt(c.id, 10) + "/" + strconv.Itoa(len(c.msgs)+1) + ".jpg"
	_, err := s.appendMessage(v, c, Vendor, "", url, time.Time{})
	v.Unlock()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, http.StatusOK, []byte(`{}`))
}
