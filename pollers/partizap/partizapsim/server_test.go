package partizapsim

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for name, hdr := range map[string]map[string]string{
		"no cookie":      nil,
		"bearer only":    {"Authorization": "Bearer " + sessionA},
		"wrong cookie":   {"Cookie": "PARTIZAP_SESSION=sess-nope"},
		"other cookie":   {"Cookie": "SESSION=" + sessionA},
		"empty cookie":   {"Cookie": "PARTIZAP_SESSION="},
		"csrf is no key": {"Cookie": "CSRF_TOKEN=" + sessionA},
	} {
		r := f.do(http.MethodGet, "", "/vendor/conversations", nil, hdr)
		var e errorBody
		if r.status != http.StatusUnauthorized || json.Unmarshal(r.body, &e) != nil || e.Message != "Unauthenticated." {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		if bytes.Contains(r.body, []byte(sessionA)) {
			t.Errorf("%s: the body echoes the session", name)
		}
	}
	if r := f.get(sessionA, "/vendor/conversations"); r.status != http.StatusOK {
		t.Fatalf("valid session: %d %s", r.status, r.body)
	}
	st := f.sim.Stats()
	if st.Unauthorized != 6 || st.ConversationsCalls != 1 {
		t.Fatalf("stats %+v", st)
	}
	f.sim.ResetStats()
	if st := f.sim.Stats(); st != (Stats{}) {
		t.Fatalf("after reset: %+v", st)
	}
}

func TestAddVendorPanics(t *testing.T) {
	t.Parallel()
	sim := New(Config{})
	sim.AddVendor(1, "s1")
	sim.AddVendor(1, "s1")  // the same again: fine
	sim.AddVendor(1, "s1b") // a second session: fine
	for name, fn := range map[string]func(){
		"session of another vendor": func() { sim.AddVendor(2, "s1") },
		"zero id":                   func() { sim.AddVendor(0, "s") },
		"empty session":             func() { sim.AddVendor(3, "") },
		"session with ;":            func() { sim.AddVendor(3, "a;b") },
		"bad messages path":         func() { New(Config{MessagesPath: "/x"}) },
		"unknown vendor":            func() { sim.AddThread(99, NewThread{}) },
		"unknown conversation":      func() { sim.AddMessage(1, 12345, Buyer, "x", time.Time{}) },
		"bad sender":                func() { sim.AddMessage(1, sim.AddThread(1, NewThread{}), 0, "x", time.Time{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			fn()
		}()
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.sim.InjectFault(Fault{Endpoint: EndpointMessages, Status: 503})
	f.sim.InjectFault(Fault{Endpoint: EndpointConversations, Account: strconv.Itoa(vendorB), Status: 502})
	f.sim.InjectFault(Fault{Endpoint: EndpointConversations, Status: 429, RetryAfter: "3", Times: 2})
	f.sim.InjectFault(Fault{Status: 200, Body: `{"data": [`})

	// Unauthenticated requests leave the queue alone.
	if r := f.get("", "/vendor/conversations"); r.status != 401 {
		t.Fatalf("no session: %d", r.status)
	}
	// Vendor A skips B's fault, takes the 429 twice, then the body.
	for i, want := range []int{429, 429, 200} {
		r := f.get(sessionA, "/vendor/conversations")
		if r.status != want {
			t.Fatalf("A request %d: %d, want %d", i, r.status, want)
		}
		if want == 429 {
			var e errorBody
			if r.header.Get("Retry-After") != "3" || json.Unmarshal(r.body, &e) != nil || !strings.Contains(e.Message, "429") {
				t.Fatalf("429: %v %s", r.header, r.body)
			}
		} else if string(r.body) != `{"data": [` {
			t.Fatalf("body fault: %s", r.body)
		}
	}
	if r := f.get(sessionB, "/vendor/conversations"); r.status != 502 {
		t.Fatalf("B: %d", r.status)
	}
	if r := f.get(sessionA, "/vendor/conversations"); r.status != 200 || !bytes.HasPrefix(r.body, []byte(`{"data":[`)) {
		t.Fatalf("after the faults: %d %s", r.status, r.body)
	}
	f.sim.ClearFaults()
	id := f.sim.AddThread(vendorA, NewThread{})
	if r := f.get(sessionA, "/vendor/conversations/"+strconv.FormatInt(id, 10)+"/messages"); r.status != 200 {
		t.Fatalf("cleared fault still served: %d", r.status)
	}
	if st := f.sim.Stats(); st.Faults != 4 || st.ConversationsCalls != 5 || st.MessagesCalls != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 2, Burst: 2})
	for i := range 2 {
		if r := f.get(sessionA, "/vendor/conversations"); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "120" {
			t.Fatalf("request %d within the burst: %d %v", i, r.status, r.header)
		}
	}
	r := f.get(sessionA, "/vendor/conversations")
	var e errorBody
	if r.status != 429 || r.header.Get("Retry-After") != "1" || r.header.Get("X-RateLimit-Remaining") != "0" ||
		json.Unmarshal(r.body, &e) != nil || e.Message != "Too Many Attempts." {
		t.Fatalf("over the limit: %d %v %s", r.status, r.header, r.body)
	}
	// Sessions are limited separately.
	if r := f.get(sessionB, "/vendor/conversations"); r.status != 200 {
		t.Fatalf("other session: %d", r.status)
	}
	f.clock.Advance(500 * time.Millisecond)
	if r := f.get(sessionA, "/vendor/conversations"); r.status != 200 {
		t.Fatalf("after a token came back: %d", r.status)
	}
	if st := f.sim.Stats(); st.RateLimited != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for _, p := range []string{"/vendor/threads", "/api/vendor/conversations", "/vendor/conversations/1/messages/all"} {
		if r := f.get(sessionA, p); r.status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := f.sim.AddThread(vendorA, NewThread{Buyer: "Ivan"})
	f.sim.AddMessage(vendorA, id, Buyer, "Is it original?", time.Time{})
	path := "/vendor/conversations/" + strconv.FormatInt(id, 10) + "/messages"
	csrf := map[string]string{"Content-Type": "application/json", "Cookie": "CSRF_TOKEN=tok", "X-CSRF-TOKEN": "tok"}

	for name, hdr := range map[string]map[string]string{
		"no csrf":      {"Content-Type": "application/json"},
		"csrf differs": {"Content-Type": "application/json", "Cookie": "CSRF_TOKEN=tok", "X-CSRF-TOKEN": "other"},
		"header only":  {"Content-Type": "application/json", "X-CSRF-TOKEN": "tok"},
	} {
		if r := f.do(http.MethodPost, sessionA, path, strings.NewReader(`{"text":"Yes"}`), hdr); r.status != 419 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	r := f.do(http.MethodPost, sessionA, path, strings.NewReader(`{"text":" "}`), csrf)
	var e errorBody
	if r.status != 422 || json.Unmarshal(r.body, &e) != nil || len(e.Errors["text"]) != 1 {
		t.Fatalf("empty text: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, sessionB, path, strings.NewReader(`{"text":"x"}`), csrf); r.status != 404 {
		t.Fatalf("another vendor's conversation: %d", r.status)
	}
	r = f.do(http.MethodPost, sessionA, path, strings.NewReader(`{"text":"Yes, original"}`), csrf)
	sent := decode[struct{ Data wireMessage }](t, r).Data
	if r.status != http.StatusCreated || sent.Text != "Yes, original" || idOf(t, sent.SenderID) != "5" || sent.IsRead {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	th, _ := f.sim.Thread(vendorA, id)
	if len(th.Messages) != 2 || th.Messages[1].Direction != "outbound" || th.ReplyNeededSince != nil || th.UnreadCount != 0 {
		t.Fatalf("after sending: %+v", th)
	}

	// An image, multipart, answers {}.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "bumper.jpg")
	_, _ = fw.Write([]byte("\xff\xd8\xff"))
	_ = mw.Close()
	img := map[string]string{"Content-Type": mw.FormDataContentType(), "Cookie": "CSRF_TOKEN=tok", "X-CSRF-TOKEN": "tok"}
	if r := f.do(http.MethodPost, sessionA, path+"/image", &body, img); r.status != 200 || string(r.body) != "{}" {
		t.Fatalf("image: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodPost, sessionA, path+"/image", strings.NewReader(""), img); r.status != 422 {
		t.Fatalf("image without a file: %d %s", r.status, r.body)
	}
	th, _ = f.sim.Thread(vendorA, id)
	if last := th.Messages[len(th.Messages)-1]; len(th.Messages) != 3 || last.ImageURL == "" || last.Text != "" || last.From != Vendor {
		t.Fatalf("after the image: %+v", th.Messages)
	}
	if st := f.sim.Stats(); st.SendCalls != 8 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := f.sim.AddThread(vendorA, NewThread{Buyer: "Ivan", Product: "BMW E46 front bumper"})
	b := f.sim.AddThread(vendorA, NewThread{Buyer: "Olga", Product: "Audi A4 B8 steering rack"})
	f.sim.AddMessage(vendorA, a, Buyer, "Is it ORIGINAL?", time.Time{})
	f.sim.AddMessage(vendorA, a, Vendor, "Yes, original.", time.Time{})
	f.sim.AddMessage(vendorA, b, Buyer, "Original or copy?", time.Time{})
	f.sim.AddMessage(vendorA, b, Buyer, "Hello?", time.Time{})
	pa := "/vendor/conversations/" + strconv.FormatInt(a, 10) + "/messages/search"

	if r := f.get(sessionA, pa+"?q=o"); r.status != 422 {
		t.Fatalf("q of one character: %d", r.status)
	}
	if r := f.get(sessionA, "/vendor/messages/search"); r.status != 422 {
		t.Fatalf("no q: %d", r.status)
	}
	p := decode[listPage[wireMessage]](t, f.get(sessionA, pa+"?q=origin"))
	if len(p.Data) != 2 || p.Data[0].Text != "Yes, original." || p.Meta.HasMore {
		t.Fatalf("conversation search: %+v", p)
	}
	// Global search, newest first, one per page.
	var texts []string
	q := "/vendor/messages/search?q=origin&limit=1"
	for {
		p := decode[listPage[wireMessage]](t, f.get(sessionA, q))
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
	if p := decode[listPage[wireMessage]](t, f.get(sessionB, "/vendor/messages/search?q=origin")); len(p.Data) != 0 {
		t.Fatalf("B found %d of A's messages", len(p.Data))
	}
}
