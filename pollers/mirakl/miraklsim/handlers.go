package miraklsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handleThread serves M10: one thread with all its messages.
func (s *Server) handleThread(w http.ResponseWriter, r *http.Request, sh *shop) {
	id := r.PathValue("thread_id")
	sh.RLock()
	t := sh.threads[id]
	var wt wireThread
	if t != nil {
		wt = t.wire(true, 0)
	}
	sh.RUnlock()
	if t == nil {
		// 404 for an unknown thread is what Mirakl is understood to do; it
		// is also what a thread of another shop looks like.
		writeError(w, http.StatusNotFound, "thread "+strconv.Quote(id)+" not found")
		return
	}
	writeJSON(w, http.StatusOK, wt)
}

const (
	maxPostBytes   = 64 << 20
	maxMemoryBytes = 8 << 20
)

// handlePost serves M12: the shop replies in a thread. The request is
// multipart/form-data with a JSON part message_input and optional files.
func (s *Server) handlePost(w http.ResponseWriter, r *http.Request, sh *shop) {
	id := r.PathValue("thread_id")
	r.Body = http.MaxBytesReader(w, r.Body, maxPostBytes)
	if err := r.ParseMultipartForm(maxMemoryBytes); err != nil {
		writeError(w, http.StatusBadRequest, "expected multipart/form-data with a message_input part")
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()

	raw, err := messageInputPart(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var in messageInput
	if err := json.Unmarshal(raw, &in); err != nil {
		writeError(w, http.StatusBadRequest, "message_input is not valid JSON")
		return
	}
	if strings.TrimSpace(in.Body) == "" {
		writeError(w, http.StatusBadRequest, "message_input.body is required")
		return
	}
	if len(in.To) == 0 {
		writeError(w, http.StatusBadRequest, "message_input.to needs at least one recipient")
		return
	}
	if in.Topic != nil && (in.Topic.Value == "" || (in.Topic.Type != "FREE_TEXT" && in.Topic.Type != "REASON_CODE")) {
		writeError(w, http.StatusBadRequest, "message_input.topic needs a type FREE_TEXT or REASON_CODE and a value")
		return
	}
	var atts []Attachment
	for _, fh := range r.MultipartForm.File["files"] {
		atts = append(atts, Attachment{Name: fh.Filename, Size: fh.Size})
	}

	sh.Lock()
	defer sh.Unlock()
	t := sh.threads[id]
	if t == nil {
		writeError(w, http.StatusNotFound, "thread "+strconv.Quote(id)+" not found")
		return
	}
	if len(t.msgs) >= MaxMessagesPerThread {
		writeError(w, http.StatusBadRequest, errThreadFull.Error())
		return
	}
	to, msg := t.recipients(sh, in)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	entity := t.entityType + "/" + t.entityID
	if sh.attachments[entity]+len(atts) > maxAttachmentsPerEntity {
		writeError(w, http.StatusBadRequest, errTooManyAttachs.Error())
		return
	}
	if in.Topic != nil {
		t.topic = *in.Topic
	}
	m, err := s.appendMessage(sh, t, Shop, in.Body, to, atts, time.Time{})
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sh.attachments[entity] += len(atts)
	writeJSON(w, http.StatusCreated, postResponse{MessageID: m.ID, ThreadID: t.id})
}

// messageInputPart finds message_input, sent either as a plain form field or
// as a file part (clients that set a filename to give it a JSON content type).
func messageInputPart(r *http.Request) ([]byte, error) {
	if v := r.MultipartForm.Value["message_input"]; len(v) > 0 {
		return []byte(v[0]), nil
	}
	if fhs := r.MultipartForm.File["message_input"]; len(fhs) > 0 {
		f, err := fhs[0].Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(f)
	}
	return nil, errors.New("the message_input part is required")
}

// recipients maps M12's to[] onto the thread's participants. The shop is the
// sender, so only the operator and the thread's customer can be recipients.
func (t *thread) recipients(sh *shop, in messageInput) ([]wireParticipant, string) {
	to := make([]wireParticipant, 0, len(in.To))
	seen := map[string]bool{}
	for _, rc := range in.To {
		if rc.Type == partShop {
			return nil, "message_input.to: the shop cannot write to itself"
		}
		p, ok := t.participant(sh, rc.Type)
		if !ok {
			return nil, "message_input.to: " + strconv.Quote(rc.Type) + " is not a participant of this thread"
		}
		if rc.ID != "" && p.ID != "" && rc.ID != p.ID {
			return nil, "message_input.to: unknown " + rc.Type + " id " + strconv.Quote(rc.ID)
		}
		if !seen[p.Type] {
			seen[p.Type] = true
			to = append(to, p)
		}
	}
	return to, ""
}
