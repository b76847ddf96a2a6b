package hubspotsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// seeded serves a fixture whose account A has n seeded threads of one
// message each, a second apart from t0, and returns them in id order.
func seeded(t *testing.T, n int) (*fixture, []ThreadInfo) {
	f := newFixture(t, Config{})
	f.Sim.Seed(portalA, n, 1, t0)
	return f, f.Sim.Threads(portalA)
}

// TestListInIDOrderWithPaging checks the id order of the ground truth,
// which the conformance suite walks, and the last page.
func TestListInIDOrderWithPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.Seed(portalA, 7, 2, t0)
	want := threadIDs(f.Sim.Threads(portalA))
	if !slices.IsSortedFunc(want, func(a, b string) int {
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		return int(x - y)
	}) {
		t.Fatalf("ground truth not in id order: %v", want)
	}
	// paging is left out on the last page, even an exactly full one.
	p := listPage[jThread](f, tokA, threadsURL+"?limit=7")
	if len(p.Results) != 7 || p.Paging != nil {
		t.Fatalf("full last page: %d results, paging %+v", len(p.Results), p.Paging)
	}
}

func TestLimitDefaultsTo100AndIsCapped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.Seed(portalA, MaxLimit+20, 0, time.Time{})
	if p := listPage[jThread](f, tokA, threadsURL); len(p.Results) != DefaultLimit || p.Paging == nil {
		t.Fatalf("default page: %d results", len(p.Results))
	}
	if p := listPage[jThread](f, tokA, threadsURL+"?limit=100000"); len(p.Results) != MaxLimit {
		t.Fatalf("capped page: %d results", len(p.Results))
	}
	for _, bad := range []string{"0", "-1", "ten"} {
		r := f.Get(tokA, threadsURL+"?limit="+bad)
		simtest.WantStatus(t, r, http.StatusBadRequest)
		e := wantError(t, r.Body, catValidation)
		if len(e.Errors) != 1 || e.Errors[0].In != "limit" {
			t.Fatalf("errors %+v", e.Errors)
		}
	}
}

func TestQueryValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for _, q := range []string{
		"sort=latestMessageTimestamp",
		"sort=createdAt",
		"sort=-id",
		"sort=-latestMessageTimestamp&latestMessageTimestampAfter=2024-01-01T00:00:00Z",
		"latestMessageTimestampAfter=yesterday",
		"inboxId=abc",
		"associatedContactId=12001",
		"associatedContactId=12001&threadStatus=OPEN&inboxId=1",
		"threadStatus=PENDING",
		"archived=sometimes",
		"association=CONTACT",
		"after=!!!",
		"after=" + url.QueryEscape(threadCursor(&thread{idStr: "7509711001"}, false)) + "&sort=latestMessageTimestamp&latestMessageTimestampAfter=2024-01-01T00:00:00Z",
	} {
		r := f.Get(tokA, threadsURL+"?"+q)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, r.Status)
			continue
		}
		wantError(t, r.Body, catValidation)
	}
	for _, q := range []string{
		"sort=id",
		"sort=latestMessageTimestamp&latestMessageTimestampAfter=2024-01-01T00:00:00.5Z",
		"latestMessageTimestampAfter=1704067200000",
		"inboxId=1&inboxId=2,3",
		"associatedContactId=12001&threadStatus=CLOSED&sort=-id",
		"association=TICKET&property=foo&archived=false",
	} {
		r := f.Get(tokA, threadsURL+"?"+q)
		simtest.WantStatus(t, r, http.StatusOK)
	}
}

func TestSortByLatestMessage(t *testing.T) {
	t.Parallel()
	f, th := seeded(t, 6)
	f.Sim.AddMessage(portalA, th[1].ID, Agent, "answer", time.Time{})
	f.Sim.AddComment(portalA, th[0].ID, "note", time.Time{})
	// latestMessageTimestampAfter is inclusive.
	since := url.QueryEscape(formatTime(th[3].LatestMessageAt))
	got := f.walk(tokA, "limit=2&sort=latestMessageTimestamp&latestMessageTimestampAfter="+since)
	if want := []string{th[3].ID, th[4].ID, th[5].ID, th[1].ID, th[0].ID}; !slices.Equal(got, want) {
		t.Fatalf("walk %v, want %v", got, want)
	}
	// The filter applies in id order too.
	got = f.walk(tokA, "latestMessageTimestampAfter="+since)
	if want := []string{th[0].ID, th[1].ID, th[3].ID, th[4].ID, th[5].ID}; !slices.Equal(got, want) {
		t.Fatalf("walk in id order %v, want %v", got, want)
	}
}

// TestThreadMovesBehindTheCursor: a thread that gains a message during a
// walk by latestMessageTimestamp comes back later in the same walk.
func TestThreadMovesBehindTheCursor(t *testing.T) {
	t.Parallel()
	f, th := seeded(t, 6)
	q := "limit=2&sort=latestMessageTimestamp&latestMessageTimestampAfter=" + url.QueryEscape(formatTime(t0))
	p := listPage[jThread](f, tokA, threadsURL+"?"+q)
	f.Sim.AddMessage(portalA, th[0].ID, Visitor, "again", time.Time{})
	seen := append([]string{p.Results[0].ID, p.Results[1].ID}, walkAfter(f, tokA, threadsURL, q, p.after(), func(th jThread) string { return th.ID })...)
	if want := append(threadIDs(th), th[0].ID); !slices.Equal(seen, want) {
		t.Fatalf("walk %v, want %v", seen, want)
	}
}

func TestArchivedThreads(t *testing.T) {
	t.Parallel()
	f, th := seeded(t, 4)
	f.Sim.SetArchived(portalA, th[2].ID, true)
	if got := f.walk(tokA, ""); !slices.Equal(got, []string{th[0].ID, th[1].ID, th[3].ID}) {
		t.Fatalf("default list %v", got)
	}
	if got := f.walk(tokA, "archived=true"); !slices.Equal(got, []string{th[2].ID}) {
		t.Fatalf("archived list %v", got)
	}
	p := listPage[jThread](f, tokA, threadsURL+"?archived=true")
	if !p.Results[0].Archived {
		t.Fatal("archived thread says archived: false")
	}
	f.Sim.SetArchived(portalA, th[2].ID, false)
	if got := f.walk(tokA, "sort=latestMessageTimestamp&latestMessageTimestampAfter=2000-01-01T00:00:00Z"); !slices.Equal(got, threadIDs(th)) {
		t.Fatalf("restored list %v", got)
	}
	if !slices.Equal(threadIDs(f.Sim.Threads(portalA)), threadIDs(th)) {
		t.Fatal("ground truth order changed")
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := f.Sim.AddThread(portalA, NewThread{InboxID: "5", TicketID: "880011", At: t0})
	b := f.Sim.AddThread(portalA, NewThread{InboxID: "6", At: t0})
	c := f.Sim.AddThread(portalA, NewThread{At: t0})
	f.Sim.SetStatus(portalA, b, StatusClosed, time.Time{})
	if got := f.walk(tokA, "inboxId=5&inboxId=6"); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("inbox filter %v", got)
	}
	if got := f.walk(tokA, "inboxId="+f.Sim.InboxID(portalA)); !slices.Equal(got, []string{c}) {
		t.Fatalf("default inbox %v", got)
	}
	ta, _ := f.Sim.Thread(portalA, a)
	if got := f.walk(tokA, "associatedContactId="+ta.ContactID+"&threadStatus=OPEN"); !slices.Equal(got, []string{a}) {
		t.Fatalf("contact filter %v", got)
	}
	if got := f.walk(tokA, "associatedContactId="+ta.ContactID+"&threadStatus=CLOSED"); len(got) != 0 {
		t.Fatalf("contact and status filter %v", got)
	}
	// Tickets show only when asked for.
	p := listPage[jThread](f, tokA, threadsURL)
	if p.Results[0].ThreadAssociations != nil {
		t.Fatal("threadAssociations without association=TICKET")
	}
	p = listPage[jThread](f, tokA, threadsURL+"?association=TICKET")
	if p.Results[0].ThreadAssociations == nil || p.Results[0].ThreadAssociations.AssociatedTicketID != "880011" || p.Results[1].ThreadAssociations != nil {
		t.Fatalf("tickets %+v %+v", p.Results[0].ThreadAssociations, p.Results[1].ThreadAssociations)
	}
}

// TestDescendingPages: the backward scan behind descending sorts (which
// the API allows only with associatedContactId, and every simulated thread
// has a contact of its own) pages from the end.
func TestDescendingPages(t *testing.T) {
	t.Parallel()
	f, th := seeded(t, 3)
	a := f.Sim.accounts.Must(portalA)
	a.RLock()
	defer a.RUnlock()
	q := threadQuery{limit: 2, desc: true, since: minKey}
	rows, more := a.page(&q)
	if len(rows) != 2 || !more || rows[0].id < rows[1].id {
		t.Fatalf("first descending page %v more=%v", rows, more)
	}
	q.after, q.afterID = true, rows[1].id
	rows, more = a.page(&q)
	if len(rows) != 1 || more || rows[0].idStr != th[0].ID {
		t.Fatalf("second descending page %v more=%v", rows, more)
	}
}

func TestThreadJSONShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	open := f.Sim.AddThread(portalA, NewThread{Visitor: "Jane", At: t0})
	f.Sim.AddMessage(portalA, open, Visitor, "hi", t0.Add(time.Second))
	f.Sim.AddMessage(portalA, open, Agent, "hello", t0.Add(2*time.Second+250*time.Millisecond))
	empty := f.Sim.AddThread(portalA, NewThread{At: t0.Add(3 * time.Second)})
	f.Sim.SetStatus(portalA, open, StatusClosed, t0.Add(time.Minute))

	r := f.Get(tokA, threadsURL)
	var raw struct {
		Results []map[string]json.RawMessage
		Paging  *json.RawMessage
	}
	if err := json.Unmarshal(r.Body, &raw); err != nil || raw.Paging != nil || len(raw.Results) != 2 {
		t.Fatalf("%s %v", r.Body, err)
	}
	if r.Header.Get("Content-Type") != "application/json;charset=utf-8" || len(r.Header.Get("X-HubSpot-Correlation-Id")) != 36 {
		t.Fatalf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	for _, k := range []string{"id", "inboxId", "status", "spam", "archived", "associatedContactId", "assignedTo",
		"originalChannelId", "originalChannelAccountId", "createdAt", "closedAt", "latestMessageTimestamp",
		"latestMessageSentTimestamp", "latestMessageReceivedTimestamp"} {
		if _, ok := raw.Results[0][k]; !ok {
			t.Errorf("thread without %s: %s", k, r.Body)
		}
	}
	for _, k := range []string{"assignedTo", "closedAt", "latestMessageTimestamp", "latestMessageSentTimestamp",
		"latestMessageReceivedTimestamp", "threadAssociations"} {
		if _, ok := raw.Results[1][k]; ok {
			t.Errorf("unassigned open thread without messages has %s", k)
		}
	}
	p := listPage[jThread](f, tokA, threadsURL)
	th := p.Results[0]
	if th.ID != open || th.Status != StatusClosed || *th.ClosedAt != "2024-03-01T08:01:00Z" ||
		th.CreatedAt != "2024-03-01T08:00:00Z" || *th.LatestMessageTimestamp != "2024-03-01T08:00:02.25Z" ||
		*th.LatestMessageSentTimestamp != "2024-03-01T08:00:02.25Z" || *th.LatestMessageReceivedTimestamp != "2024-03-01T08:00:01Z" ||
		*th.AssignedTo != "A-4242" || th.InboxID != f.Sim.InboxID(portalA) {
		t.Fatalf("%+v", th)
	}
	if p.Results[1].ID != empty {
		t.Fatal("order")
	}
}
