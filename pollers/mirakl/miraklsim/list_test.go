package miraklsim

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

func TestWalkReturnsEveryThreadOnceInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	// Many threads share a date_updated, so the id tie-break decides.
	for i := range 237 {
		at := t0.Add(time.Duration(i/10) * time.Minute)
		id := f.Sim.AddThread(shopA, NewThread{At: at})
		f.Sim.AddMessage(shopA, id, Customer, "hi", at)
	}

	pages := f.walk(keyA, url.Values{"limit": {"50"}}, nil)
	if len(pages) != 5 {
		t.Fatalf("%d pages, want 5", len(pages))
	}
	for i, p := range pages {
		want := 50
		if i == 4 {
			want = 37
		}
		if len(p.Data) != want {
			t.Fatalf("page %d has %d threads, want %d", i, len(p.Data), want)
		}
		if i == 0 && p.Prev != nil {
			t.Fatal("previous_page_token on the first page")
		}
	}

	got := ids(pages)
	var want []string
	for _, th := range f.Sim.Threads(shopA) {
		want = append(want, th.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatal("walk does not return every thread exactly once in (date_updated, id) order")
	}
	var all []jThread
	for _, p := range pages {
		all = append(all, p.Data...)
	}
	if !slices.IsSortedFunc(all, func(a, b jThread) int {
		if c := a.DateUpdated.Compare(b.DateUpdated); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	}) {
		t.Fatal("threads are not ordered by (date_updated, id)")
	}
}

func TestLastPageOmitsNextPageToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	addThreads(f.Sim, shopA, 3)
	body := f.Get(keyA, "/api/inbox/threads").Body
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"next_page_token", "previous_page_token"} {
		if _, ok := raw[k]; ok {
			t.Fatalf("%s present on the only page: %s", k, body)
		}
	}

	// An empty inbox is an empty array, not null.
	body = f.Get(keyB, "/api/inbox/threads").Body
	if string(body) != "{\"data\":[]}\n" {
		t.Fatalf("empty inbox: %s", body)
	}
}

func TestLimitDefaultsTo50AndMayNotExceed100(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.Seed(shopA, 130, 1, t0)

	if p := f.list(keyA, nil); len(p.Data) != 50 || p.Next == nil {
		t.Fatalf("default page: %d threads, next %v; want 50 and a next token", len(p.Data), p.Next)
	}
	if p := f.list(keyA, url.Values{"limit": {"100"}}); len(p.Data) != 100 {
		t.Fatalf("limit=100: %d threads", len(p.Data))
	}
	if p := f.list(keyA, url.Values{"limit": {"1"}}); len(p.Data) != 1 {
		t.Fatalf("limit=1: %d threads", len(p.Data))
	}
	for _, bad := range []string{"101", "0", "-1", "ten"} {
		f.refused(keyA, "/api/inbox/threads?limit="+bad, http.StatusBadRequest)
	}
	// The token keeps the limit of the first request.
	p := f.list(keyA, url.Values{"limit": {"30"}})
	p = f.list(keyA, url.Values{"page_token": {*p.Next}})
	if len(p.Data) != 30 {
		t.Fatalf("second page of limit=30: %d threads", len(p.Data))
	}
}

func TestUpdatedSinceIsInclusive(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	tids := addThreads(f.Sim, shopA, 10) // thread i updated at t0 + i min

	for _, since := range []string{
		t0.Add(4 * time.Minute).Format(time.RFC3339),
		t0.Add(4 * time.Minute).In(time.FixedZone("CET", 3600)).Format(time.RFC3339), // same instant, +01:00
	} {
		got := ids(f.walk(keyA, url.Values{"updated_since": {since}}, nil))
		if want := tids[4:]; !slices.Equal(got, want) {
			t.Fatalf("updated_since=%s: got %d threads, want the %d from the boundary thread on", since, len(got), len(want))
		}
	}
	// Fractional seconds count.
	p := f.list(keyA, url.Values{"updated_since": {t0.Add(4*time.Minute + time.Nanosecond).Format(time.RFC3339Nano)}})
	if len(p.Data) != 5 {
		t.Fatalf("one nanosecond after the boundary: %d threads, want 5", len(p.Data))
	}
	r := f.Get(keyA, "/api/inbox/threads?updated_since=yesterday")
	simtest.WantStatus(t, r, http.StatusBadRequest)
}

func TestPageTokenIgnoresOtherParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for i := range 30 {
		typ := "MMP_ORDER"
		if i%2 == 1 {
			typ = "MMP_OFFER"
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		id := f.Sim.AddThread(shopA, NewThread{EntityType: typ, At: at})
		f.Sim.AddMessage(shopA, id, Customer, "hi", at)
	}
	since := t0.Add(10 * time.Minute).Format(time.RFC3339)
	first := f.list(keyA, url.Values{"entity_type": {"MMP_OFFER"}, "updated_since": {since}, "limit": {"3"}})

	// Conflicting parameters sent along with the token change nothing.
	q := url.Values{
		"page_token":    {*first.Next},
		"entity_type":   {"MMP_ORDER"},
		"updated_since": {t0.Add(24 * time.Hour).Format(time.RFC3339)},
		"limit":         {"abc"},
		"entity_id":     {"x"},
		"with_messages": {"maybe"},
	}
	pages := append([]jPage{first}, f.walk(keyA, q, nil)...)
	got := 0
	for _, p := range pages {
		if len(p.Data) > 3 {
			t.Fatalf("page of %d threads, the token says limit 3", len(p.Data))
		}
		for _, th := range p.Data {
			got++
			if th.Entities[0].Type != "MMP_OFFER" || th.DateUpdated.Before(t0.Add(10*time.Minute)) {
				t.Fatalf("thread %s (%s, %s) does not match the original query", th.ID, th.Entities[0].Type, th.DateUpdated)
			}
			if th.Messages != nil {
				t.Fatal("messages included although the original query did not ask")
			}
		}
	}
	if got != 10 { // odd i in 10..29
		t.Fatalf("%d offer threads, want 10", got)
	}

	for _, bad := range []string{"garbage!", "eyJ2Ijo5fQ", "e30"} {
		f.refused(keyA, "/api/inbox/threads?page_token="+bad, http.StatusBadRequest)
	}
}

func TestThreadUpdatedDuringWalkComesBackLater(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	tids := addThreads(f.Sim, shopA, 30)

	// After the first page, a thread already returned and one not yet
	// reached both get a message (at "now", later than everything).
	early, late := tids[3], tids[25]
	pages := f.walk(keyA, url.Values{"limit": {"10"}}, func(page int, p jPage) {
		if page == 1 {
			f.Sim.AddMessage(shopA, early, Customer, "me again", time.Time{})
			f.Sim.AddMessage(shopA, late, Shop, "answer", time.Time{})
		}
	})
	seen := map[string]int{}
	for _, id := range ids(pages) {
		seen[id]++
	}
	if len(seen) != 30 {
		t.Fatalf("walk saw %d distinct threads, want 30", len(seen))
	}
	if seen[early] != 2 || seen[late] != 1 {
		t.Fatalf("updated thread seen %d times (want 2: before and after the update), late one %d (want 1)", seen[early], seen[late])
	}
	var all []jThread
	for _, p := range pages {
		all = append(all, p.Data...)
	}
	n := len(all)
	if all[n-2].ID != early || all[n-1].ID != late {
		t.Fatal("updated threads are not at the end of the walk")
	}
	if got := all[n-2].Metadata.TotalCount; got != 2 {
		t.Fatalf("revisited thread shows %d messages, want 2", got)
	}
}

func TestPreviousPageTokenWalksBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	tids := addThreads(f.Sim, shopA, 25)

	p1 := f.list(keyA, url.Values{"limit": {"10"}})
	p2 := f.list(keyA, url.Values{"page_token": {*p1.Next}})
	p3 := f.list(keyA, url.Values{"page_token": {*p2.Next}})
	if p2.Prev == nil || p3.Prev == nil || p3.Next != nil {
		t.Fatal("want previous tokens on pages 2 and 3 and no next token on page 3")
	}
	back := f.list(keyA, url.Values{"page_token": {*p3.Prev}})
	if got := ids([]jPage{back}); !slices.Equal(got, tids[10:20]) {
		t.Fatalf("previous of page 3 is not page 2")
	}
	back = f.list(keyA, url.Values{"page_token": {*back.Prev}})
	if back.Prev != nil || len(back.Data) != 10 || back.Data[0].ID != tids[0] {
		t.Fatal("previous of page 2 is not the first page")
	}
	fwd := f.list(keyA, url.Values{"page_token": {*back.Next}})
	if fwd.Data[0].ID != tids[10] {
		t.Fatal("next token of a page reached backwards does not continue after it")
	}
}

func TestEntityFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	mk := func(typ, id string) string {
		th := f.Sim.AddThread(shopA, NewThread{EntityType: typ, EntityID: id})
		from := Customer
		if typ == EntitySellerOperator {
			from = Operator
		}
		f.Sim.AddMessage(shopA, th, from, "hi", time.Time{})
		return th
	}
	o1 := mk("MMP_ORDER", "order1-A")
	mk("MMP_ORDER", "order2-A")
	o20 := mk("MMP_ORDER", "order20-A")
	mk("MMP_OFFER", "order1-A") // same id, other type
	op := mk(EntitySellerOperator, "op-1")

	got := func(q url.Values) []string {
		var out []string
		for _, th := range f.list(keyA, q).Data {
			out = append(out, th.ID)
		}
		return out
	}
	if g := got(url.Values{"entity_type": {"MMP_ORDER"}, "entity_id": {"order1-A,order20-A"}}); !slices.Equal(g, []string{o1, o20}) {
		t.Fatalf("entity_id list: %v", g)
	}
	if g := got(url.Values{"entity_type": {"MMP_ORDER"}, "entity_id": {"order1-A", "order20-A"}}); !slices.Equal(g, []string{o1, o20}) {
		t.Fatalf("repeated entity_id: %v", g)
	}
	if g := got(url.Values{"entity_type": {"MMP_ORDER"}}); len(g) != 3 {
		t.Fatalf("entity_type=MMP_ORDER: %d threads", len(g))
	}
	if g := got(url.Values{"entity_type": {EntitySellerOperator}}); !slices.Equal(g, []string{op}) {
		t.Fatalf("entity_type=SELLER_OPERATOR: %v", g)
	}
	if g := got(url.Values{"entity_type": {"MPS_ORDER"}}); len(g) != 0 {
		t.Fatalf("unused entity type: %v", g)
	}
	f.refused(keyA, "/api/inbox/threads?entity_id=order1-A", http.StatusBadRequest)

	// Filtered walks page correctly too.
	for i := range 12 {
		mk("MMP_OFFER", "offer-"+strconv.Itoa(i))
	}
	pages := f.walk(keyA, url.Values{"entity_type": {"MMP_OFFER"}, "limit": {"5"}}, nil)
	if n := len(ids(pages)); n != 13 || len(pages) != 3 {
		t.Fatalf("filtered walk: %d threads in %d pages, want 13 in 3", n, len(pages))
	}
}

func TestWithMessagesGivesTheLast100(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := f.Sim.AddThread(shopA, NewThread{At: t0})
	msgIDs := simtest.Converse(f.Sim, shopA, id, 150, func(i int) bool { return i%2 == 1 })

	p := f.list(keyA, url.Values{"with_messages": {"true"}})
	th := p.Data[0]
	if len(th.Messages) != 100 || th.Metadata.TotalCount != 150 {
		t.Fatalf("with_messages: %d messages, total_count %d; want 100 and 150", len(th.Messages), th.Metadata.TotalCount)
	}
	for i, m := range th.Messages {
		if m.ID != msgIDs[50+i] {
			t.Fatalf("message %d is %s, want the last 100 oldest first", i, m.ID)
		}
	}

	p = f.list(keyA, nil)
	if p.Data[0].Messages != nil {
		t.Fatal("messages without with_messages")
	}
	var full jThread
	f.GetJSON(keyA, "/api/inbox/threads/"+id, &full)
	if len(full.Messages) != 150 || full.Messages[0].ID != msgIDs[0] || full.Messages[149].ID != msgIDs[149] {
		t.Fatalf("M10 returns %d messages, want all 150 oldest first", len(full.Messages))
	}
	r := f.Get(keyA, "/api/inbox/threads?with_messages=maybe")
	simtest.WantStatus(t, r, http.StatusBadRequest)
}
