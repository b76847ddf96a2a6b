package partizapsim

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for name, hdr := range map[string][]string{
		"no cookie":      nil,
		"bearer only":    {"Authorization: Bearer " + sessionA},
		"wrong cookie":   {"Cookie: PARTIZAP_SESSION=sess-nope"},
		"other cookie":   {"Cookie: SESSION=" + sessionA},
		"empty cookie":   {"Cookie: PARTIZAP_SESSION="},
		"csrf is no key": {"Cookie: CSRF_TOKEN=" + sessionA},
	} {
		r := f.Get("", "/vendor/conversations", hdr...)
		if e, err := laravelError(r.Body); r.Status != http.StatusUnauthorized || err != nil || e.Message != "Unauthenticated." {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
		if bytes.Contains(r.Body, []byte(sessionA)) {
			t.Errorf("%s: the body echoes the session", name)
		}
	}
	// A valid session.
	simtest.WantStatus(t, f.Get(sessionA, "/vendor/conversations"), http.StatusOK)
	if st := f.Sim.Stats(); st.Unauthorized != 6 || st.ConversationsCalls != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAddVendorPanics(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddVendor(1, "s1")
	sim.AddVendor(1, "s1")  // the same again: fine
	sim.AddVendor(1, "s1b") // a second session: fine
	simtest.WantPanics(t, map[string]func(){
		"zero id":              func() { sim.AddVendor(0, "s") },
		"empty session":        func() { sim.AddVendor(3, "") },
		"session with ;":       func() { sim.AddVendor(3, "a;b") },
		"bad messages path":    func() { New(Config{MessagesPath: "/x"}) },
		"unknown vendor":       func() { sim.AddThread(99, NewThread{}) },
		"unknown conversation": func() { sim.AddMessage(1, 12345, Buyer, "x", time.Time{}) },
		"bad sender":           func() { sim.AddMessage(1, sim.AddThread(1, NewThread{}), 0, "x", time.Time{}) },
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 2, Burst: 2})
	for i := range 2 {
		if r := f.Get(sessionA, "/vendor/conversations"); r.Status != 200 || r.Header.Get("X-RateLimit-Limit") != "120" {
			t.Fatalf("request %d within the burst: %d %v", i, r.Status, r.Header)
		}
	}
	r := f.Get(sessionA, "/vendor/conversations")
	if e, err := laravelError(r.Body); r.Status != 429 || r.Header.Get("Retry-After") != "1" || r.Header.Get("X-RateLimit-Remaining") != "0" ||
		err != nil || e.Message != "Too Many Attempts." {
		t.Fatalf("over the limit: %d %v %s", r.Status, r.Header, r.Body)
	}
	// Sessions are limited separately.
	simtest.WantStatus(t, f.Get(sessionB, "/vendor/conversations"), http.StatusOK)
	// Half a second at 2/s brings a token back.
	f.Clock.Advance(500 * time.Millisecond)
	simtest.WantStatus(t, f.Get(sessionA, "/vendor/conversations"), http.StatusOK)
	if st := f.Sim.Stats(); st.RateLimited != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for _, p := range []string{"/vendor/threads", "/api/vendor/conversations", "/vendor/conversations/1/messages/all"} {
		if r := f.Get(sessionA, p); r.Status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.Status)
		}
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := f.Sim.AddThread(vendorA, NewThread{Buyer: "Ivan"})
	f.Sim.AddMessage(vendorA, id, Buyer, "Is it original?", time.Time{})
	path := messagesPath(id)
	csrf := []string{"Cookie: CSRF_TOKEN=tok", "X-CSRF-TOKEN: tok"}

	for name, hdr := range map[string][]string{
		"no csrf":      nil,
		"csrf differs": {"Cookie: CSRF_TOKEN=tok", "X-CSRF-TOKEN: other"},
		"header only":  {"X-CSRF-TOKEN: tok"},
	} {
		if r := f.Post(sessionA, path, `{"text":"Yes"}`, hdr...); r.Status != 419 {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	r := f.Post(sessionA, path, `{"text":" "}`, csrf...)
	if e, err := laravelError(r.Body); r.Status != 422 || err != nil || len(e.Errors["text"]) != 1 {
		t.Fatalf("empty text: %d %s", r.Status, r.Body)
	}
	// Another vendor's conversation.
	simtest.WantStatus(t, f.Post(sessionB, path, `{"text":"x"}`, csrf...), http.StatusNotFound)
	r = f.Post(sessionA, path, `{"text":"Yes, original"}`, csrf...)
	sent := simtest.Decode[struct{ Data wireMessage }](t, r, http.StatusCreated).Data
	if r.Status != http.StatusCreated || sent.Text != "Yes, original" || idOf(t, sent.SenderID) != "5" || sent.IsRead {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	th, _ := f.Sim.Thread(vendorA, id)
	if len(th.Messages) != 2 || th.Messages[1].Direction != "outbound" || th.ReplyNeededSince != nil || th.UnreadCount != 0 {
		t.Fatalf("after sending: %+v", th)
	}

	// An image, multipart, answers {}.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "bumper.jpg")
	_, _ = fw.Write([]byte("\xff\xd8\xff"))
	_ = mw.Close()
	img := append([]string{"Content-Type: " + mw.FormDataContentType()}, csrf...)
	if r := f.Do(http.MethodPost, sessionA, path+"/image", &body, img...); r.Status != 200 || string(r.Body) != "{}" {
		t.Fatalf("image: %d %s", r.Status, r.Body)
	}
	// An image without a file.
	simtest.WantStatus(t, f.Do(http.MethodPost, sessionA, path+"/image", strings.NewReader(""), img...), http.StatusUnprocessableEntity)
	th, _ = f.Sim.Thread(vendorA, id)
	if last := th.Messages[len(th.Messages)-1]; len(th.Messages) != 3 || last.ImageURL == "" || last.Text != "" || last.From != Vendor {
		t.Fatalf("after the image: %+v", th.Messages)
	}
	if st := f.Sim.Stats(); st.SendCalls != 8 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := f.Sim.AddThread(vendorA, NewThread{Buyer: "Ivan", Product: "BMW E46 front bumper"})
	b := f.Sim.AddThread(vendorA, NewThread{Buyer: "Olga", Product: "Audi A4 B8 steering rack"})
	f.Sim.AddMessage(vendorA, a, Buyer, "Is it ORIGINAL?", time.Time{})
	f.Sim.AddMessage(vendorA, a, Vendor, "Yes, original.", time.Time{})
	f.Sim.AddMessage(vendorA, b, Buyer, "Original or copy?", time.Time{})
	f.Sim.AddMessage(vendorA, b, Buyer, "Hello?", time.Time{})
	pa := messagesPath(a) + "/search"

	// A q of one character, and none.
	simtest.WantStatus(t, f.Get(sessionA, pa+"?q=o"), http.StatusUnprocessableEntity)
	simtest.WantStatus(t, f.Get(sessionA, "/vendor/messages/search"), http.StatusUnprocessableEntity)
	p := simtest.Decode[listPage[wireMessage]](t, f.Get(sessionA, pa+"?q=origin"))
	if len(p.Data) != 2 || p.Data[0].Text != "Yes, original." || p.Meta.HasMore {
		t.Fatalf("conversation search: %+v", p)
	}
	// Global search, newest first, one per page.
	var texts []string
	q := "/vendor/messages/search?q=origin&limit=1"
	for {
		p := simtest.Decode[listPage[wireMessage]](t, f.Get(sessionA, q))
		for _, m := range p.Data {
			if m.Conversation == nil || m.Conversation.Companion.Name == "" || m.Conversation.Product.Title == "" {
				t.Fatalf("global hit without its conversation: %+v", m)
			}
			texts = append(texts, m.Text)
		}
		if !p.Meta.HasMore {
			break
		}
		q = "/vendor/messages/search?q=origin&limit=1&cursor=" + *p.Meta.NextCursor
	}
	if strings.Join(texts, "|") != "Original or copy?|Yes, original.|Is it ORIGINAL?" {
		t.Fatalf("global search: %q", texts)
	}
	// Vendor B sees none of A's messages.
	if p := simtest.Decode[listPage[wireMessage]](t, f.Get(sessionB, "/vendor/messages/search?q=origin")); len(p.Data) != 0 {
		t.Fatalf("B found %d of A's messages", len(p.Data))
	}
}

// TestSeed checks what Partizap's Seed adds to the layout the conformance
// suite checks: senders, reply-needed and update times, and a start of the
// caller's.
func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.Seed(vendorA, 30, 4, time.Time{})
	f.Sim.Seed(vendorB, 5, 3, t0)
	threads := f.Sim.Threads(vendorA)
	for i, th := range threads {
		for j, m := range th.Messages {
			if (m.Direction == "outbound") != (m.SenderID == vendorA) {
				t.Fatalf("thread %d message %d: %+v", i, j, m)
			}
		}
		if pending := th.ReplyNeededSince != nil; pending != (i%3 == 2) {
			t.Fatalf("thread %d: reply needed %v", i, th.ReplyNeededSince)
		}
		if i%3 == 2 && !th.ReplyNeededSince.Equal(th.Messages[2].At) {
			t.Fatalf("thread %d: needed since %v, want the first unanswered message's time", i, th.ReplyNeededSince)
		}
		if !th.UpdatedAt.Equal(th.Messages[3].At) {
			t.Fatalf("thread %d: updated %v", i, th.UpdatedAt)
		}
	}
	b := f.Sim.Threads(vendorB)
	if len(b) != 5 || !b[0].CreatedAt.Equal(t0) || !b[0].Messages[1].At.Equal(t0.Add(time.Second)) {
		t.Fatalf("explicit start: %+v", b[0])
	}
}
