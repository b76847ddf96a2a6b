package selfcommunitysim

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

func TestSnippetsNewestFirstWithDRFLinks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	var ids []string
	for i := range 5 {
		ids = append(ids, f.Sim.AddThread(userA, NewThread{At: t0.Add(time.Duration(i) * time.Minute)}))
	}
	// The oldest thread gets a message: it moves to the front.
	f.Sim.AddMessage(userA, ids[0], Owner, "late answer", t0.Add(time.Hour))
	want := []string{ids[0], ids[4], ids[3], ids[2], ids[1]}

	base := f.URL + "/api/v2/pm/"
	p := decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/?limit=2&foo=bar"))
	if p.Count != 5 || p.Previous != nil || p.Next == nil || *p.Next != base+"?foo=bar&limit=2&offset=2" {
		t.Fatalf("first page: count %d, next %v, previous %v", p.Count, p.Next, p.Previous)
	}
	p = decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/?limit=2&offset=2"))
	if *p.Next != base+"?limit=2&offset=4" || *p.Previous != base+"?limit=2" {
		t.Fatalf("middle page: next %v, previous %v (DRF drops offset=0)", *p.Next, *p.Previous)
	}
	p = decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/?limit=2&offset=4"))
	if p.Next != nil || *p.Previous != base+"?limit=2&offset=2" || len(p.Results) != 1 {
		t.Fatalf("last page: next %v, previous %v, %d results", p.Next, p.Previous, len(p.Results))
	}
	if got := f.walkSnippets(tokenA, 2); !slices.Equal(got, want) {
		t.Fatalf("walk %v, want %v", got, want)
	}
	// Past the end: an empty page, no next.
	p = decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/?limit=2&offset=9"))
	if len(p.Results) != 0 || p.Next != nil || p.Count != 5 {
		t.Fatalf("past the end: %+v", p)
	}
	// B's inbox is its own.
	if p := decodePage[jsonSnippet](t, f.Get(tokenB, "/api/v2/pm/")); p.Count != 0 {
		t.Fatalf("B sees %d threads of A", p.Count)
	}
	if st := f.Sim.Stats(); st.SnippetsListed != 2+2+1+5 {
		t.Fatalf("snippets listed %d", st.SnippetsListed)
	}
}

func TestSnippetShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(userA, NewThread{With: "maria", RealName: "Maria Rossi", Text: "Is the meetup still on?", At: t0})
	p := decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/"))
	s := p.Results[0]
	if strconv.FormatInt(s.ID, 10) != th || s.Headline != "Is the meetup still on?" || s.ThreadStatus != "new" ||
		s.Sender.Username != "maria" || strconv.FormatInt(s.Receiver.ID, 10) != f.idA ||
		s.CreatedAt != "2024-03-05T18:20:02.000100+01:00" || s.LastMessageAt != s.CreatedAt {
		t.Fatalf("snippet %+v", s)
	}
	// Reading the thread makes it seen; the owner's answer keeps it seen
	// for the owner, and the snippet shows the last message.
	f.Get(tokenA, "/api/v2/pm/?thread="+th)
	if s := decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/")).Results[0]; s.ThreadStatus != "seen" {
		t.Fatalf("after reading: %s", s.ThreadStatus)
	}
	f.Sim.AddMessage(userA, th, Owner, strings.Repeat("é", 150), t0.Add(time.Second))
	s = decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/")).Results[0]
	if s.ThreadStatus != "seen" || s.Sender.Username != userA || s.Headline != strings.Repeat("é", 100)+"…" ||
		s.LastMessageAt != "2024-03-05T18:20:03.000100+01:00" {
		t.Fatalf("after the owner's answer: %+v", s)
	}
	f.Sim.AddMessage(userA, th, Other, "ok", t0.Add(2*time.Second))
	if s := decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/")).Results[0]; s.ThreadStatus != "new" {
		t.Fatalf("after a member's message: %s", s.ThreadStatus)
	}
	if ti, _ := f.Sim.Thread(userA, th); ti.Status != "new" || ti.With.RealName != "Maria Rossi" {
		t.Fatalf("ground truth %+v", ti)
	}
}

func TestLimitsBehaveLikeDRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{DefaultLimit: 3, MaxLimit: 5})
	for range 8 {
		f.Sim.AddThread(userA, NewThread{})
	}
	for _, tc := range []struct {
		query       string
		results     int
		next, nextQ string
	}{
		{"", 3, "", "limit=3&offset=3"},
		{"limit=0", 3, "", "limit=3&offset=3"},
		{"limit=-2", 3, "", "limit=3&offset=3"},
		{"limit=x", 3, "", "limit=3&offset=3"},
		{"limit=50", 5, "", "limit=5&offset=5"},
		{"limit=2&offset=-1", 2, "", "limit=2&offset=2"},
		{"limit=2&offset=x", 2, "", "limit=2&offset=2"},
	} {
		p := decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/?"+tc.query))
		if len(p.Results) != tc.results || p.Next == nil || !strings.HasSuffix(*p.Next, "?"+tc.nextQ) {
			t.Fatalf("%q: %d results, next %v; want %d and %s", tc.query, len(p.Results), p.Next, tc.results, tc.nextQ)
		}
	}
}

func TestTimesAreIsoformatWithOffset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		loc  *time.Location
		at   time.Time
		want string
	}{
		{nil, t0, "2024-03-05T18:20:02.000100+01:00"},
		{nil, time.Date(2024, 3, 5, 17, 0, 0, 0, time.UTC), "2024-03-05T18:00:00+01:00"},
		{time.UTC, t0, "2024-03-05T17:20:02.000100Z"},
		{time.FixedZone("", -5*3600), t0.Add(999 * time.Nanosecond), "2024-03-05T12:20:02.000100-05:00"},
	} {
		f := newFixture(t, Config{Location: tc.loc})
		th := f.Sim.AddThread(userA, NewThread{At: tc.at})
		p := f.threadQuery(tokenA, url.Values{"thread": {th}})
		if got := p.Results[0].CreatedAt; got != tc.want {
			t.Fatalf("%v in %v: %s, want %s", tc.at, tc.loc, got, tc.want)
		}
		if parsed, err := time.Parse(time.RFC3339Nano, tc.want); err != nil || !parsed.Equal(tc.at.Truncate(time.Microsecond)) {
			t.Fatalf("%s does not parse back to %v: %v", tc.want, tc.at, err)
		}
	}
}

func TestThreadMessagesFiltersAndPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(userA, NewThread{With: "maria", At: t0})
	ti, _ := f.Sim.Thread(userA, th)
	ids := append([]string{ti.Messages[0].ID}, simtest.Converse(f.Sim, userA, th, 5, func(i int) bool { return i%2 == 0 })...)
	// Another thread's messages interleave ids.
	f.Sim.AddThread(userA, NewThread{})
	ids = append(ids, f.Sim.AddMessage(userA, th, Other, "last", time.Time{}))

	all := f.threadQuery(tokenA, url.Values{"thread": {th}, "limit": {"100"}})
	if all.Count != 7 || !slices.Equal(msgIDs(all.Results), ids) {
		t.Fatalf("all: %v, want %v", msgIDs(all.Results), ids)
	}
	m := all.Results[1]
	if strconv.FormatInt(m.ThreadID, 10) != th || strconv.FormatInt(m.Sender.ID, 10) != f.idA || m.Receiver.Username != "maria" || m.Status != "created" {
		t.Fatalf("message shape %+v", m)
	}
	from := f.threadQuery(tokenA, url.Values{"thread": {th}, "from_message": {ids[3]}})
	if from.Count != 4 || !slices.Equal(msgIDs(from.Results), ids[3:]) {
		t.Fatalf("from_message is inclusive: %v", msgIDs(from.Results))
	}
	before := f.threadQuery(tokenA, url.Values{"thread": {th}, "before_message": {ids[3]}})
	if !slices.Equal(msgIDs(before.Results), ids[:3]) {
		t.Fatalf("before_message is exclusive: %v", msgIDs(before.Results))
	}
	both := f.threadQuery(tokenA, url.Values{"thread": {th}, "from_message": {ids[1]}, "before_message": {ids[5]}, "limit": {"2"}, "offset": {"2"}})
	if both.Count != 4 || !slices.Equal(msgIDs(both.Results), ids[3:5]) || both.Next != nil || both.Previous == nil ||
		!strings.HasSuffix(*both.Previous, "?before_message="+ids[5]+"&from_message="+ids[1]+"&limit=2&thread="+th) {
		t.Fatalf("both filters, paged: count %d, %v, previous %v", both.Count, msgIDs(both.Results), both.Previous)
	}
	// user= is the 1:1 thread with that user.
	ti, _ = f.Sim.Thread(userA, th)
	byUser := f.threadQuery(tokenA, url.Values{"user": {ti.With.ID}, "limit": {"3"}})
	if byUser.Count != 7 || !slices.Equal(msgIDs(byUser.Results), ids[:3]) || byUser.Next == nil {
		t.Fatalf("user=: %v", msgIDs(byUser.Results))
	}
	if st := f.Sim.Stats(); st.Thread != 5 {
		t.Fatalf("thread calls %d", st.Thread)
	}
}

func TestMessagesNewestFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{MessagesNewestFirst: true})
	th := f.Sim.AddThread(userA, NewThread{})
	a := f.Sim.AddMessage(userA, th, Owner, "a", time.Time{})
	b := f.Sim.AddMessage(userA, th, Other, "b", time.Time{})
	p := f.threadQuery(tokenA, url.Values{"thread": {th}, "from_message": {a}, "limit": {"1"}})
	if !slices.Equal(msgIDs(p.Results), []string{b}) || p.Count != 2 || p.Next == nil {
		t.Fatalf("newest first: %v", msgIDs(p.Results))
	}
}

func TestThreadQueryErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(userA, NewThread{})
	other := f.Sim.AddThread(userB, NewThread{})
	for _, tc := range []struct {
		query  string
		status int
		field  string
	}{
		{"thread=" + th + "&user=1", http.StatusBadRequest, "non_field_errors"},
		{"thread=abc", http.StatusBadRequest, "thread"},
		{"thread=" + th + "&from_message=x", http.StatusBadRequest, "from_message"},
		{"group=1", http.StatusBadRequest, "group"},
		{"thread=" + other, http.StatusNotFound, ""},
		{"thread=999999", http.StatusNotFound, ""},
		{"user=999999", http.StatusNotFound, ""},
	} {
		r := f.Get(tokenA, "/api/v2/pm/?"+tc.query)
		if r.Status != tc.status || (tc.field != "" && !strings.Contains(string(r.Body), `"`+tc.field+`":[`)) {
			t.Fatalf("%s: %d %s", tc.query, r.Status, r.Body)
		}
	}
	// B exists but has no thread with A: an empty page.
	if p := f.threadQuery(tokenA, url.Values{"user": {f.idB}}); p.Count != 0 {
		t.Fatalf("user without a thread: %+v", p)
	}
}

func TestThreadBetweenTwoAccounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(userA, NewThread{With: userB, Text: "hi bob"})
	if again := f.Sim.AddThread(userB, NewThread{With: userA, From: Owner, Text: "hi alice"}); again != th {
		t.Fatalf("the pair got a second thread %s, want %s", again, th)
	}
	a, _ := f.Sim.Thread(userA, th)
	b, _ := f.Sim.Thread(userB, th)
	if len(a.Messages) != 2 || a.Messages[0].Direction != "inbound" || a.Messages[1].Direction != "inbound" ||
		b.Messages[0].Direction != "outbound" || b.Messages[1].Direction != "outbound" || a.With.ID != f.idB || b.With.ID != f.idA {
		t.Fatalf("A sees %+v, B sees %+v", a, b)
	}
	for _, tok := range []string{tokenA, tokenB} {
		if p := decodePage[jsonSnippet](t, f.Get(tok, "/api/v2/pm/")); p.Count != 1 || strconv.FormatInt(p.Results[0].ID, 10) != th {
			t.Fatalf("inbox of %s: %+v", tok, p)
		}
	}
	// A user who becomes an account later finds their threads.
	f.Sim.AddThread(userA, NewThread{With: "carol", From: Owner, At: t0})
	f.Sim.AddAccount("carol", "tok-c")
	if p := decodePage[jsonSnippet](t, f.Get("tok-c", "/api/v2/pm/")); p.Count != 1 || p.Results[0].ThreadStatus != "new" {
		t.Fatalf("carol's inbox: %+v", p)
	}
}

func TestHideThread(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(userA, NewThread{With: userB})
	keep := f.Sim.AddThread(userA, NewThread{})
	f.Sim.HideThread(userA, th)
	f.Sim.HideThread(userA, th)
	if got := f.walkSnippets(tokenA, 10); !slices.Equal(got, []string{keep}) {
		t.Fatalf("A's inbox after hiding: %v", got)
	}
	if len(f.Sim.Threads(userA)) != 1 || len(f.Sim.Threads(userB)) != 1 {
		t.Fatal("hiding must leave A's ground truth only")
	}
	// Still readable, and back with the next message.
	if p := f.threadQuery(tokenA, url.Values{"thread": {th}}); p.Count != 1 {
		t.Fatalf("hidden thread read: %+v", p)
	}
	f.Sim.AddMessage(userB, th, Owner, "still there?", time.Time{})
	if got := f.walkSnippets(tokenA, 10); !slices.Equal(got, []string{th, keep}) {
		t.Fatalf("after a new message: %v", got)
	}
}

func TestSingleMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(userA, NewThread{Text: "hello"})
	ti, _ := f.Sim.Thread(userA, th)
	id := ti.Messages[0].ID
	r := f.Get(tokenA, "/api/v2/pm/"+id+"/")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"message":"hello"`) {
		t.Fatalf("GET message: %d %s", r.Status, r.Body)
	}
	if r := f.Get(tokenB, "/api/v2/pm/"+id+"/"); r.Status != http.StatusNotFound {
		t.Fatalf("another user's message: %d", r.Status)
	}
	if st := f.Sim.Stats(); st.Message != 2 {
		t.Fatalf("message calls %d", st.Message)
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(userA, NewThread{With: "maria"})
	ti, _ := f.Sim.Thread(userA, th)
	maria := ti.With.ID
	r := f.Post(tokenA, "/api/v2/pm/", `{"recipients":[`+maria+`],"message":"Yes, 10am."}`)
	if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `"thread_id":`+th) {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	// A single id, and a new thread with B.
	r = f.Post(tokenA, "/api/v2/pm/", `{"recipients":`+f.idB+`,"message":"hi"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("send to one id: %d %s", r.Status, r.Body)
	}
	// Several recipients: a list.
	r = f.Post(tokenA, "/api/v2/pm/", `{"recipients":[`+maria+`,`+f.idB+`],"message":"both"}`)
	if r.Status != http.StatusCreated || r.Body[0] != '[' {
		t.Fatalf("send to two: %d %s", r.Status, r.Body)
	}
	ti, _ = f.Sim.Thread(userA, th)
	if n := len(ti.Messages); n != 3 || ti.Messages[1].Direction != "outbound" {
		t.Fatalf("thread after sends: %+v", ti)
	}
	if got := f.walkSnippets(tokenB, 10); len(got) != 1 {
		t.Fatalf("B's inbox: %v", got)
	}
	for _, body := range []string{
		`{"message":"x"}`, `{"recipients":[],"message":"x"}`, `{"recipients":[` + maria + `]}`,
		`{"recipients":[` + maria + `],"file_uuid":"f"}`, `{"recipients":[424242],"message":"x"}`,
		`{"recipients":[` + f.idA + `],"message":"x"}`, `{"group":3,"message":"x"}`, `not json`,
	} {
		if r := f.Post(tokenA, "/api/v2/pm/", body); r.Status != http.StatusBadRequest {
			t.Fatalf("send %s: %d %s", body, r.Status, r.Body)
		}
	}
	if st := f.Sim.Stats(); st.Send != 11 {
		t.Fatalf("send calls %d", st.Send)
	}
}
