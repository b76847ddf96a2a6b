package selfcommunitysim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sendInput is POST /api/v2/pm/'s body. recipients is a list of user ids,
// or one id as the JS SDK also sends it.
type sendInput struct {
	Recipients json.RawMessage `json:"recipients"`
	Group      *int64          `json:"group"`
	Message    string          `json:"message"`
	FileUUID   string          `json:"file_uuid"`
}

const maxSendBytes = 1 << 20

// handleSend serves POST /api/v2/pm/: the account's user writes to one or
// more users, in the thread of each pair (created by the first message).
// The answer is 201 with the message, or the list of messages for several
// recipients (the documentation shows both). That a recipient must follow
// the sender is not checked: the simulator has no follows.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request, a *account) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSendBytes))
	if err != nil {
		writeDetail(w, http.StatusRequestEntityTooLarge, "Request body too large.")
		return
	}
	var in sendInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeDetail(w, http.StatusBadRequest, "JSON parse error - "+err.Error())
		return
	}
	if in.Group != nil {
		writeFieldErrors(w, "group", "Groups are not enabled in this community.")
		return
	}
	ids, ok := recipientIDs(in.Recipients)
	if !ok {
		writeFieldErrors(w, "recipients", "This field is required.")
		return
	}
	if strings.TrimSpace(in.Message) == "" {
		if in.FileUUID != "" {
			// Uploads are not simulated, so no file_uuid is valid.
			writeFieldErrors(w, "file_uuid", "Invalid file.")
		} else {
			writeFieldErrors(w, "message", "This field is required.")
		}
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	others := make([]*user, len(ids))
	for i, id := range ids {
		u := s.users[id]
		if u == nil {
			writeFieldErrors(w, "recipients", `Invalid pk "`+strconv.FormatInt(id, 10)+`" - object does not exist.`)
			return
		}
		if u == a.user {
			writeFieldErrors(w, "recipients", "You cannot send a message to yourself.")
			return
		}
		others[i] = u
	}
	out := make([]*message, len(others))
	for i, u := range others {
		at := s.stampLocked(time.Time{})
		t := s.pairThread(a.user, u, at)
		out[i] = s.appendMessage(t, t.side(a.user), in.Message, at, true)
	}
	if len(out) == 1 {
		writeJSON(w, http.StatusCreated, out[0])
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// recipientIDs reads recipients as a non-empty list of ids or a single id.
func recipientIDs(raw json.RawMessage) ([]int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	var ids []int64
	if raw[0] == '[' {
		if json.Unmarshal(raw, &ids) != nil || len(ids) == 0 {
			return nil, false
		}
		return ids, true
	}
	var id int64
	if json.Unmarshal(raw, &id) != nil {
		return nil, false
	}
	return []int64{id}, true
}
