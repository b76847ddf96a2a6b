package olxsim

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// addThreads creates n threads in account A, one message each, a minute
// apart from t0; it returns their ids, oldest first.
func addThreads(f *fixture, n int) []string {
	var out []string
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		th := f.Sim.AddThread(acctA, NewThread{At: at})
		f.Sim.AddMessage(acctA, th, Interlocutor, "hello "+strconv.Itoa(i), at)
		out = append(out, th)
	}
	return out
}

func strIDs(ts []wireThread) []string {
	return simtest.IDs(ts, func(t wireThread) string { return strconv.FormatInt(t.ID, 10) })
}

func reversed(s []string) []string {
	s = slices.Clone(s)
	slices.Reverse(s)
	return s
}

// GET /threads lists newest activity first; a message moves its thread to
// the top and shifts the others; reading a thread does not.
func TestListOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	ths := addThreads(f, 5) // listed 4 3 2 1 0
	if got := strIDs(f.threads(tokenA, "")); !slices.Equal(got, reversed(ths)) {
		t.Fatalf("list %v, want %v", got, reversed(ths))
	}
	f.Sim.AddMessage(acctA, ths[1], Owner, "yes", time.Time{})
	want := []string{ths[1], ths[4], ths[3], ths[2], ths[0]}
	if got := strIDs(f.threads(tokenA, "")); !slices.Equal(got, want) {
		t.Fatalf("after a message in %s: %v, want %v", ths[1], got, want)
	}
	f.Sim.MarkRead(acctA, ths[0])
	if got := strIDs(f.threads(tokenA, "")); !slices.Equal(got, want) {
		t.Fatalf("reading moved a thread: %v", got)
	}
	// The ground truth is in list order too.
	var truth []string
	for _, th := range f.Sim.Threads(acctA) {
		truth = append(truth, th.ID)
	}
	if !slices.Equal(truth, want) {
		t.Fatalf("Threads %v, want %v", truth, want)
	}
	// A deleted thread leaves; the ones below move up.
	f.Sim.DeleteThread(acctA, ths[3])
	if got := strIDs(f.threads(tokenA, "?offset=2&limit=2")); !slices.Equal(got, []string{ths[2], ths[0]}) {
		t.Fatalf("after deleting %s: %v", ths[3], got)
	}
	if _, ok := f.Sim.Thread(acctA, ths[3]); ok {
		t.Fatal("deleted thread still there")
	}
}

func TestListWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	ths := reversed(addThreads(f, 60)) // in list order
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", ths[:50]}, // default limit 50
		{"?limit=3", ths[:3]},
		{"?offset=0&limit=3", ths[:3]},
		{"?offset=58&limit=5", ths[58:]},
		{"?offset=60&limit=5", []string{}},
		{"?offset=500", []string{}},
		{"?offset=10&limit=1000", ths[10:]},
	} {
		if got := strIDs(f.threads(tokenA, c.query)); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query, got, c.want)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?offset=-1", "?offset=1.5", "?advert_id=x"} {
		r := f.Get(tokenA, "/api/partner/threads"+q)
		if e := apiError(t, r); r.Status != http.StatusBadRequest || e.Title != "Validation Failed" || len(e.Validation) != 1 {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}

	one := newFixture(t, Config{OffsetBase: 1, DefaultLimit: 2, MaxLimit: 3})
	ths = reversed(addThreads(one, 4))
	if got := strIDs(one.threads(tokenA, "")); !slices.Equal(got, ths[:2]) {
		t.Errorf("1-based default page: %v", got)
	}
	if got := strIDs(one.threads(tokenA, "?offset=1&limit=3")); !slices.Equal(got, ths[:3]) {
		t.Errorf("1-based offset 1: %v", got)
	}
	if got := strIDs(one.threads(tokenA, "?offset=4&limit=3")); !slices.Equal(got, ths[3:]) {
		t.Errorf("1-based offset 4: %v", got)
	}
	for _, q := range []string{"?offset=0", "?limit=4"} {
		if r := one.Get(tokenA, "/api/partner/threads"+q); r.Status != http.StatusBadRequest {
			t.Errorf("1-based %s: %d", q, r.Status)
		}
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a1 := f.Sim.AddThread(acctA, NewThread{AdvertID: 11, InterlocutorID: 501})
	a2 := f.Sim.AddThread(acctA, NewThread{AdvertID: 11, InterlocutorID: 502})
	b1 := f.Sim.AddThread(acctA, NewThread{AdvertID: 12, InterlocutorID: 501})
	for q, want := range map[string][]string{
		"?advert_id=11":                     {a2, a1},
		"?advert_id=11&offset=1":            {a1},
		"?interlocutor_id=501":              {b1, a1},
		"?interlocutor_id=501&advert_id=12": {b1},
		"?advert_id=13":                     {},
	} {
		if got := strIDs(f.threads(tokenA, q)); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
}

func TestMessagesEndpoint(t *testing.T) {
	t.Parallel()
	for _, newest := range []bool{false, true} {
		f := newFixture(t, Config{MessagesNewestFirst: newest})
		th := f.Sim.AddThread(acctA, NewThread{At: t0})
		want := simtest.Converse(f.Sim, acctA, th, 5, func(i int) bool { return i%2 == 1 })
		if newest {
			want = reversed(want)
		}
		var got []string
		for off := 0; off < 6; off += 2 {
			for _, m := range f.messages(tokenA, th, "?offset="+strconv.Itoa(off)+"&limit=2") {
				got = append(got, strconv.FormatInt(m.ID, 10))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("newest first %v: %v, want %v", newest, got, want)
		}
		if st := f.Sim.Stats(); st.Messages != 3 || st.MessagesListed != 5 {
			t.Errorf("stats %+v", st)
		}
	}
}

// Reading: the interlocutor's messages are unread until the owner answers
// or the thread is marked read.
func TestUnread(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(acctA, NewThread{})
	simtest.Converse(f.Sim, acctA, th, 2, func(int) bool { return false }) // two received
	unread := func() int { ti, _ := f.Sim.Thread(acctA, th); return ti.UnreadCount }
	if got := f.threads(tokenA, "")[0]; got.UnreadCount != 2 || got.TotalCount != 2 || unread() != 2 {
		t.Fatalf("after two received: %+v", got)
	}
	f.Sim.AddMessage(acctA, th, Owner, "c", time.Time{})
	if unread() != 0 {
		t.Fatalf("an answer leaves %d unread", unread())
	}
	f.Sim.AddMessage(acctA, th, Interlocutor, "d", time.Time{})
	f.Sim.MarkRead(acctA, th)
	ti, _ := f.Sim.Thread(acctA, th)
	if ti.UnreadCount != 0 || slices.ContainsFunc(ti.Messages, func(m MessageInfo) bool { return !m.IsRead }) {
		t.Fatalf("after MarkRead: %+v", ti)
	}
	dirs := ""
	for _, m := range ti.Messages {
		dirs += m.Type + "/" + m.Direction + " "
	}
	if dirs != "received/inbound received/inbound sent/outbound received/inbound " {
		t.Fatalf("types and directions: %s", dirs)
	}
}

func TestSendAndCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	ths := addThreads(f, 3)
	base := "/api/partner/threads/" + ths[0]

	r := f.Post(tokenA, base+"/messages", `{"text": "Yes, still available.", "attachments": [{"url": "https://example.invalid/x/terms.pdf"}]}`)
	if sent := simtest.Decode[struct{ Data wireMessage }](t, r).Data; sent.Type != "sent" || sent.Attachments[0].Name != "terms.pdf" {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	if top := f.threads(tokenA, "?limit=1")[0]; strconv.FormatInt(top.ID, 10) != ths[0] || top.TotalCount != 2 || top.UnreadCount != 0 {
		t.Fatalf("after send the top thread is %+v", top)
	}
	for body, field := range map[string]string{
		`{"text": "  "}`: "text",
		`{"text": "x", "attachments": [{"url": "ftp://x"}]}`: "attachments",
	} {
		r := f.Post(tokenA, base+"/messages", body)
		if e := apiError(t, r); r.Status != http.StatusBadRequest || len(e.Validation) != 1 || e.Validation[0].Field != field {
			t.Errorf("send %s: %d %s", body, r.Status, r.Body)
		}
	}
	if r := f.Post(tokenA, base+"/messages", `not json`); r.Status != http.StatusBadRequest {
		t.Errorf("send garbage: %d", r.Status)
	}
	if r := f.Post(tokenA, "/api/partner/threads/1/messages", `{"text": "x"}`); r.Status != http.StatusNotFound {
		t.Errorf("send to an unknown thread: %d", r.Status)
	}

	cmd := func(th, body string) int {
		return f.Post(tokenA, "/api/partner/threads/"+th+"/commands", body).Status
	}
	fav := func(th string) bool { ti, _ := f.Sim.Thread(acctA, th); return ti.Favourite }
	if cmd(ths[1], `{"command": "set-favourite", "is_favourite": true}`) != http.StatusNoContent || !fav(ths[1]) {
		t.Error("set-favourite true")
	}
	if cmd(ths[1], `{"command": "set-favourite", "is_favourite": false}`) != http.StatusNoContent || fav(ths[1]) {
		t.Error("set-favourite false")
	}
	if cmd(ths[1], `{"command": "set-favourite"}`) != http.StatusNoContent || !fav(ths[1]) {
		t.Error("set-favourite without is_favourite")
	}
	if cmd(ths[1], `{"command": "unset-favourite"}`) != http.StatusNoContent || fav(ths[1]) {
		t.Error("unset-favourite")
	}
	if cmd(ths[2], `{"command": "mark-as-read"}`) != http.StatusNoContent {
		t.Error("mark-as-read")
	}
	if ti, _ := f.Sim.Thread(acctA, ths[2]); ti.UnreadCount != 0 {
		t.Errorf("mark-as-read left %d unread", ti.UnreadCount)
	}
	if c := cmd(ths[2], `{"command": "archive"}`); c != http.StatusBadRequest {
		t.Errorf("unknown command: %d", c)
	}
	if c := cmd("1", `{"command": "mark-as-read"}`); c != http.StatusNotFound {
		t.Errorf("command on an unknown thread: %d", c)
	}
	if st := f.Sim.Stats(); st.Calls[EndpointSend] != 5 || st.Calls[EndpointCommands] != 7 {
		t.Errorf("stats %+v", st)
	}
}

// Times are whole seconds; live ones never go back, even when the clock
// does, so a thread's messages stay in order.
func TestStamps(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(acctA, NewThread{})
	f.Clock.Advance(1500 * time.Millisecond)
	m1 := f.Sim.AddMessage(acctA, th, Interlocutor, "a", time.Time{})
	f.Clock.Advance(-time.Minute)
	m2 := f.Sim.AddMessage(acctA, th, Interlocutor, "b", time.Time{})
	ti, _ := f.Sim.Thread(acctA, th)
	want := t0.Add(time.Hour + time.Second)
	if ti.Messages[0].ID != m1 || ti.Messages[1].ID != m2 || !ti.Messages[0].At.Equal(want) || !ti.Messages[1].At.Equal(want) {
		t.Fatalf("messages %+v, want both at %v", ti.Messages, want)
	}
	if got := f.messages(tokenA, th, "")[1].CreatedAt; got != want.Format(time.DateTime) {
		t.Fatalf("created_at %q", got)
	}
	n1, _ := strconv.Atoi(m1)
	n2, _ := strconv.Atoi(m2)
	if n2 <= n1 {
		t.Fatalf("ids %d then %d do not grow", n1, n2)
	}
}

func TestPanics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(acctA, NewThread{})
	simtest.WantPanics(t, map[string]func(){
		"unknown account":   func() { f.Sim.AddThread("nobody", NewThread{}) },
		"unknown thread":    func() { f.Sim.AddMessage(acctA, "123", Owner, "x", time.Time{}) },
		"thread of another": func() { f.Sim.AddMessage(acctB, th, Owner, "x", time.Time{}) },
		"zero sender":       func() { f.Sim.AddMessage(acctA, th, 0, "x", time.Time{}) },
		"empty token":       func() { f.Sim.AddAccount(acctA, "") },
		"offset base 2":     func() { New(Config{OffsetBase: 2}) },
		"delete unknown":    func() { f.Sim.DeleteThread(acctA, "1") },
		"mark read unknown": func() { f.Sim.MarkRead(acctA, "x") },
		"seed unknown":      func() { f.Sim.Seed("nobody", 1, 1, time.Time{}) },
	})
	if f.Sim.Threads("nobody") != nil {
		t.Error("Threads of an unknown account")
	}
	if _, ok := f.Sim.Thread("nobody", th); ok {
		t.Error("Thread of an unknown account")
	}
}
