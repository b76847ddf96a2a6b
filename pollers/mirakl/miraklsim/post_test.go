package miraklsim

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// M12, a shop's reply to a thread: message_input, recipients, files and
// the caps on them.

// post sends an M12 request with message_input and optional files.
func (f *fixture) post(key, threadID string, input any, files map[string][]byte) simtest.Response {
	f.T.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if input != nil {
		raw, ok := input.(string)
		if !ok {
			b, err := json.Marshal(input)
			if err != nil {
				f.T.Fatal(err)
			}
			raw = string(b)
		}
		if err := mw.WriteField("message_input", raw); err != nil {
			f.T.Fatal(err)
		}
	}
	for name, content := range files {
		w, err := mw.CreateFormFile("files", name)
		if err != nil {
			f.T.Fatal(err)
		}
		_, _ = w.Write(content)
	}
	if err := mw.Close(); err != nil {
		f.T.Fatal(err)
	}
	return f.Do(http.MethodPost, key, "/api/inbox/threads/"+threadID+"/message", &buf, "Content-Type: "+mw.FormDataContentType())
}

func TestPostMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := f.Sim.AddThread(shopA, NewThread{Customer: "John D.", At: t0})
	f.Sim.AddMessage(shopA, id, Customer, "Where is my parcel?", t0)

	r := f.post(keyA, id, map[string]any{
		"body": "Shipped yesterday.",
		"to":   []map[string]string{{"type": "CUSTOMER"}, {"type": "OPERATOR"}},
	}, map[string][]byte{"label.pdf": bytes.Repeat([]byte("x"), 1234)})
	created := simtest.Decode[struct {
		MessageID string `json:"message_id"`
		ThreadID  string `json:"thread_id"`
	}](t, r, http.StatusCreated)
	if created.ThreadID != id || created.MessageID == "" {
		t.Fatalf("201 body %s", r.Body)
	}

	var th jThread
	f.GetJSON(keyA, "/api/inbox/threads/"+id, &th)
	m := th.Messages[len(th.Messages)-1]
	if m.ID != created.MessageID || m.From.Type != "SHOP_USER" || m.Body != "Shipped yesterday." {
		t.Fatalf("posted message %+v", m)
	}
	if len(m.To) != 2 || m.To[0].Type != "CUSTOMER" || m.To[0].DisplayName != "John D." || m.To[1].Type != "OPERATOR" {
		t.Fatalf("recipients %+v", m.To)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "label.pdf" || m.Attachments[0].Size != 1234 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	if th.Metadata.ShopReplyNeededSince != nil || th.Metadata.TotalCount != 2 || th.Metadata.LastSender.Type != "SHOP_USER" {
		t.Fatalf("metadata after the reply: %+v", th.Metadata)
	}
	// The reply is stamped by the clock (t0+1h in the fixture).
	if !th.DateUpdated.Equal(f.Clock.Now()) || !m.DateCreated.Equal(th.DateUpdated) {
		t.Fatalf("date_updated %v, message date %v, want the clock %v", th.DateUpdated, m.DateCreated, f.Clock.Now())
	}
	if len(th.CurrentParticipants) != 3 {
		t.Fatalf("the operator became a participant: %+v", th.CurrentParticipants)
	}
	if st := f.Sim.Stats(); st.M12Calls != 1 {
		t.Fatalf("M12Calls = %d", st.M12Calls)
	}

	// message_input sent as a file part with a JSON content type, and a topic change.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="message_input"; filename="message_input.json"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	_, _ = pw.Write([]byte(`{"body":"Tracking: 123","to":[{"type":"CUSTOMER"}],"topic":{"type":"FREE_TEXT","value":"Tracking"}}`))
	_ = mw.Close()
	r = f.Do(http.MethodPost, keyA, "/api/inbox/threads/"+id+"/message", &buf, "Content-Type: "+mw.FormDataContentType())
	simtest.WantStatus(t, r, http.StatusCreated)
	f.GetJSON(keyA, "/api/inbox/threads/"+id, &th)
	if th.Topic.Value != "Tracking" || th.Metadata.TotalCount != 3 {
		t.Fatalf("after second reply: topic %q, %d messages", th.Topic.Value, th.Metadata.TotalCount)
	}
}

func TestPostMessageRefusesBadRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := addThreads(f.Sim, shopA, 1)[0]
	op := f.Sim.AddThread(shopA, NewThread{EntityType: EntitySellerOperator})
	toCustomer := []map[string]string{{"type": "CUSTOMER"}}

	for _, tc := range []struct {
		name   string
		thread string
		input  any
		status int
	}{
		{"no message_input", id, nil, http.StatusBadRequest},
		{"not JSON", id, "{body:", http.StatusBadRequest},
		{"empty body", id, map[string]any{"body": " ", "to": toCustomer}, http.StatusBadRequest},
		{"no recipient", id, map[string]any{"body": "x", "to": []any{}}, http.StatusBadRequest},
		{"to the shop itself", id, map[string]any{"body": "x", "to": []map[string]string{{"type": "SHOP"}}}, http.StatusBadRequest},
		{"unknown recipient type", id, map[string]any{"body": "x", "to": []map[string]string{{"type": "ROBOT"}}}, http.StatusBadRequest},
		{"wrong customer id", id, map[string]any{"body": "x", "to": []map[string]string{{"type": "CUSTOMER", "id": "cust-0"}}}, http.StatusBadRequest},
		{"customer of an operator thread", op, map[string]any{"body": "x", "to": toCustomer}, http.StatusBadRequest},
		{"bad topic", id, map[string]any{"body": "x", "to": toCustomer, "topic": map[string]string{"type": "X", "value": "y"}}, http.StatusBadRequest},
		{"unknown thread", "no-such-thread", map[string]any{"body": "x", "to": toCustomer}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.post(keyA, tc.thread, tc.input, nil)
			simtest.WantStatus(t, r, tc.status)
			wantErrorBody(t, r.Body, tc.status)
		})
	}

	// Not multipart at all.
	r := f.Post(keyA, "/api/inbox/threads/"+id+"/message", `{"body":"x"}`)
	simtest.WantStatus(t, r, http.StatusBadRequest)

	if info, _ := f.Sim.Thread(shopA, id); len(info.Messages) != 1 {
		t.Fatalf("refused requests added messages: %d", len(info.Messages))
	}
	// The operator thread accepts a reply to the operator.
	r = f.post(keyA, op, map[string]any{"body": "x", "to": []map[string]string{{"type": "OPERATOR"}}}, nil)
	simtest.WantStatus(t, r, http.StatusCreated)
}

func TestPostMessageAtThe1000MessageCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := f.Sim.AddThread(shopA, NewThread{At: t0})
	for i := range MaxMessagesPerThread - 1 {
		f.Sim.AddMessage(shopA, id, Customer, "x", t0.Add(time.Duration(i)*time.Millisecond))
	}
	input := map[string]any{"body": "the 1000th", "to": []map[string]string{{"type": "CUSTOMER"}}}
	r := f.post(keyA, id, input, nil)
	simtest.WantStatus(t, r, http.StatusCreated)
	r = f.post(keyA, id, input, nil)
	simtest.WantStatus(t, r, http.StatusBadRequest)
	wantErrorBody(t, r.Body, http.StatusBadRequest)
	if info, _ := f.Sim.Thread(shopA, id); len(info.Messages) != MaxMessagesPerThread {
		t.Fatalf("%d messages", len(info.Messages))
	}
	simtest.WantPanics(t, map[string]func(){
		"AddMessage beyond the cap": func() { f.Sim.AddMessage(shopA, id, Customer, "too many", time.Time{}) },
	})
}

func TestPostMessageAttachmentCapPerEntity(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	// Two threads about the same order share the 50-attachment budget.
	a := f.Sim.AddThread(shopA, NewThread{EntityID: "ORD-9"})
	b := f.Sim.AddThread(shopA, NewThread{EntityID: "ORD-9"})
	files := map[string][]byte{}
	for i := range 30 {
		files["f"+strconv.Itoa(i)+".txt"] = []byte("x")
	}
	input := map[string]any{"body": "files", "to": []map[string]string{{"type": "CUSTOMER"}}}
	r := f.post(keyA, a, input, files)
	simtest.WantStatus(t, r, http.StatusCreated)
	r = f.post(keyA, b, input, files)
	simtest.WantStatus(t, r, http.StatusBadRequest)
}
