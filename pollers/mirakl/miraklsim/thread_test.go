package miraklsim

import (
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// TestThreadJSONShape checks the fields and formats of mirakl.md §3.2 on the
// raw JSON, the way a lenient client in another language would read it.
func TestThreadJSONShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := f.Sim.AddThread(shopA, NewThread{Topic: "Delivery delay", TopicType: "REASON_CODE", EntityID: "ORD-1001-A", Customer: "John D.", At: t0})
	f.Sim.AddMessage(shopA, id, Customer, "Where is my parcel?", t0)
	f.Sim.AddMessage(shopA, id, Shop, "Shipped yesterday.", t0.Add(45*time.Minute))
	f.Sim.AddMessageWithAttachments(shopA, id, Customer, "Tracking number please?", t0.Add(90*time.Minute+500*time.Millisecond),
		Attachment{Name: "screenshot.png", Size: 48211})

	body := f.Get(keyA, "/api/inbox/threads/"+id).Body
	var th map[string]any
	if err := json.Unmarshal(body, &th); err != nil {
		t.Fatal(err)
	}
	get := func(path ...any) any {
		var v any = th
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	for _, tc := range []struct {
		path []any
		want any
	}{
		{[]any{"id"}, id},
		{[]any{"date_created"}, "2024-03-01T08:00:00Z"},
		{[]any{"date_updated"}, "2024-03-01T09:30:00.5Z"},
		{[]any{"topic", "type"}, "REASON_CODE"},
		{[]any{"topic", "value"}, "Delivery delay"},
		{[]any{"entities", 0, "id"}, "ORD-1001-A"},
		{[]any{"entities", 0, "label"}, "ORD-1001-A"},
		{[]any{"entities", 0, "type"}, "MMP_ORDER"},
		{[]any{"metadata", "last_message_date"}, "2024-03-01T09:30:00.5Z"},
		{[]any{"metadata", "last_sender", "type"}, "CUSTOMER_USER"},
		{[]any{"metadata", "last_sender", "display_name"}, "John D."},
		{[]any{"metadata", "last_sender", "organization_details", "type"}, "CUSTOMER"},
		{[]any{"metadata", "shop_reply_needed_since"}, "2024-03-01T09:30:00.5Z"},
		{[]any{"metadata", "total_count"}, 3.0},
		{[]any{"messages", 0, "from", "type"}, "CUSTOMER_USER"},
		{[]any{"messages", 0, "to", 0, "type"}, "SHOP"},
		{[]any{"messages", 0, "to", 0, "id"}, shopA},
		{[]any{"messages", 1, "from", "type"}, "SHOP_USER"},
		{[]any{"messages", 1, "from", "organization_details", "id"}, shopA},
		{[]any{"messages", 1, "to", 0, "type"}, "CUSTOMER"},
		{[]any{"messages", 1, "date_created"}, "2024-03-01T08:45:00Z"},
		{[]any{"messages", 2, "attachments", 0, "name"}, "screenshot.png"},
		{[]any{"messages", 2, "attachments", 0, "size"}, 48211.0},
	} {
		if got := get(tc.path...); got != tc.want {
			t.Errorf("%v = %#v, want %#v", tc.path, got, tc.want)
		}
	}
	if att := get("messages", 2, "attachments", 0, "id"); att == "" || att == nil {
		t.Error("attachment without id")
	}
	if a := get("messages", 0, "attachments").([]any); len(a) != 0 {
		t.Error("attachments of a plain message should be []")
	}
	if a, ok := get("no_store_reply_needed").([]any); !ok || len(a) != 0 {
		t.Errorf("no_store_reply_needed = %#v, want []", get("no_store_reply_needed"))
	}
	auth := get("authorized_participants").([]any)
	if len(auth) != 3 || get("authorized_participants", 0, "type") != "OPERATOR" || get("authorized_participants", 0, "id") != nil {
		t.Errorf("authorized_participants = %v; want operator (no id), shop, customer", auth)
	}
	if cur := get("current_participants").([]any); len(cur) != 2 {
		t.Errorf("current_participants = %v; want shop and customer only", cur)
	}
	if _, ok := th["customer_organization"]; ok {
		t.Error("customer_organization is for B2B only")
	}
	if !isUUIDLike(id) {
		t.Errorf("thread id %q is not UUID-like", id)
	}

	// M11 without with_messages has neither messages nor no_store_reply_needed.
	body = f.Get(keyA, "/api/inbox/threads").Body
	var page struct{ Data []map[string]any }
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"messages", "no_store_reply_needed"} {
		if _, ok := page.Data[0][k]; ok {
			t.Errorf("M11 item has %q without with_messages", k)
		}
	}

	// A thread without messages: M10 says messages [] and no last sender.
	empty := f.Sim.AddThread(shopA, NewThread{})
	body = f.Get(keyA, "/api/inbox/threads/"+empty).Body
	if !strings.Contains(string(body), `"messages":[]`) || strings.Contains(string(body), "last_sender") ||
		!strings.Contains(string(body), `"shop_reply_needed_since":null`) || !strings.Contains(string(body), `"current_participants":[]`) {
		t.Errorf("empty thread: %s", body)
	}
}

func isUUIDLike(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
	}
	return true
}

func TestShopReplyNeededSince(t *testing.T) {
	t.Parallel()
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	type msg struct {
		from SenderType
		min  int
	}
	for _, tc := range []struct {
		name   string
		latest bool
		msgs   []msg
		want   int // minutes after t0; -1 = null
	}{
		{"customer waits", false, []msg{{Customer, 0}}, 0},
		{"first of several", false, []msg{{Customer, 0}, {Shop, 1}, {Customer, 2}, {Customer, 3}, {Operator, 4}}, 2},
		{"latest of several", true, []msg{{Customer, 0}, {Shop, 1}, {Customer, 2}, {Customer, 3}, {Operator, 4}}, 4},
		{"null after shop reply", false, []msg{{Customer, 0}, {Customer, 1}, {Shop, 2}}, -1},
		{"null after shop reply, latest", true, []msg{{Customer, 0}, {Shop, 2}}, -1},
		{"operator counts", false, []msg{{Shop, 0}, {Operator, 1}}, 1},
		{"shop alone", false, []msg{{Shop, 0}}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{ReplyNeededLatest: tc.latest})
			id := f.Sim.AddThread(shopA, NewThread{At: t0})
			for _, m := range tc.msgs {
				f.Sim.AddMessage(shopA, id, m.from, "x", at(m.min))
			}
			var th jThread
			f.GetJSON(keyA, "/api/inbox/threads/"+id, &th)
			got := th.Metadata.ShopReplyNeededSince
			info, _ := f.Sim.Thread(shopA, id)
			switch {
			case tc.want < 0 && (got != nil || info.ReplyNeededSince != nil):
				t.Fatalf("shop_reply_needed_since = %v, want null", got)
			case tc.want >= 0 && (got == nil || !got.Equal(at(tc.want)) || info.ReplyNeededSince == nil || !info.ReplyNeededSince.Equal(at(tc.want))):
				t.Fatalf("shop_reply_needed_since = %v (ground truth %v), want %v", got, info.ReplyNeededSince, at(tc.want))
			}
		})
	}
}

func TestMarkNoReplyNeeded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := f.Sim.AddThread(shopA, NewThread{At: t0})
	f.Sim.AddMessage(shopA, id, Customer, "thanks, all good", t0)
	f.Sim.MarkNoReplyNeeded(shopA, id, Shop, t0.Add(time.Minute))

	var th map[string]any
	f.GetJSON(keyA, "/api/inbox/threads/"+id, &th)
	if th["metadata"].(map[string]any)["shop_reply_needed_since"] != nil || th["date_updated"] != "2024-03-01T08:01:00Z" {
		t.Fatalf("after the action: %v", th)
	}
	nr := th["no_store_reply_needed"].([]any)
	if len(nr) != 1 || nr[0].(map[string]any)["user_type"] != "SHOP" || nr[0].(map[string]any)["date"] != "2024-03-01T08:01:00Z" {
		t.Fatalf("no_store_reply_needed = %v", nr)
	}
	// The next customer message opens a new episode.
	f.Sim.AddMessage(shopA, id, Customer, "one more thing", t0.Add(2*time.Minute))
	info, _ := f.Sim.Thread(shopA, id)
	if info.ReplyNeededSince == nil || !info.ReplyNeededSince.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("reply needed since %v", info.ReplyNeededSince)
	}
}

func TestEventTimesStrictlyIncreaseOnAStoppedClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{}) // the fixture clock does not move by itself
	id := f.Sim.AddThread(shopA, NewThread{})
	var ms []string
	for range 3 {
		ms = append(ms, f.Sim.AddMessage(shopA, id, Customer, "x", time.Time{}))
	}
	other := f.Sim.AddThread(shopA, NewThread{})

	info, _ := f.Sim.Thread(shopA, id)
	now := f.Clock.Now()
	if !info.CreatedAt.Equal(now) {
		t.Fatalf("created at %v, want the clock %v", info.CreatedAt, now)
	}
	prev := info.CreatedAt
	for i, m := range info.Messages {
		if m.ID != ms[i] || m.At.Sub(prev) != time.Microsecond {
			t.Fatalf("message %d at %v, want 1µs after %v", i, m.At, prev)
		}
		prev = m.At
	}
	o, _ := f.Sim.Thread(shopA, other)
	if !o.CreatedAt.After(prev) {
		t.Fatal("a later thread is not later")
	}

	// When the clock moves on, times follow it again.
	f.Clock.Advance(time.Second)
	f.Sim.AddMessage(shopA, id, Shop, "x", time.Time{})
	info, _ = f.Sim.Thread(shopA, id)
	if !info.UpdatedAt.Equal(f.Clock.Now()) {
		t.Fatalf("updated at %v, want %v", info.UpdatedAt, f.Clock.Now())
	}
}

func TestThreadsGroundTruth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := f.Sim.AddThread(shopA, NewThread{Customer: "Ann", At: t0})
	b := f.Sim.AddThread(shopA, NewThread{Customer: "Ann", At: t0.Add(time.Minute)})
	f.Sim.AddMessage(shopA, a, Customer, "q", t0.Add(2*time.Minute))
	f.Sim.AddMessage(shopA, a, Shop, "a", t0.Add(3*time.Minute))

	got := f.Sim.Threads(shopA)
	if len(got) != 2 || got[0].ID != b || got[1].ID != a {
		t.Fatalf("Threads not in (date_updated, id) order: %+v", got)
	}
	if got[0].CustomerID != got[1].CustomerID || got[0].Customer != "Ann" {
		t.Fatal("the same customer name should be the same customer")
	}
	dirs := []string{got[1].Messages[0].Direction, got[1].Messages[1].Direction}
	if !slices.Equal(dirs, []string{"inbound", "outbound"}) {
		t.Fatalf("directions %v", dirs)
	}
	if f.Sim.Threads("nope") != nil {
		t.Fatal("unknown shop has threads")
	}
	if _, ok := f.Sim.Thread(shopA, "nope"); ok {
		t.Fatal("unknown thread found")
	}
	var p jPage
	f.GetJSON(keyA, "/api/inbox/threads?"+url.Values{"limit": {"10"}}.Encode(), &p)
	if p.Data[0].ID != b {
		t.Fatal("M11 and Threads disagree on order")
	}
}

// wantReplyNeeded recomputes shop_reply_needed_since from the messages.
func wantReplyNeeded(msgs []MessageInfo, latest bool) *time.Time {
	var since *time.Time
	for _, m := range msgs {
		switch {
		case m.From == Shop:
			since = nil
		case since == nil || latest:
			at := m.At
			since = &at
		}
	}
	return since
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// TestSeed checks what Mirakl's Seed adds to the layout the conformance
// suite checks: reply-needed times, thread dates, the M11 order and a
// start of the caller's.
func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.Seed(shopA, 300, 5, time.Time{})
	f.Sim.Seed(shopB, 300, 4, t0)

	for _, tc := range []struct {
		shop        string
		mpt         int
		replyNeeded int
	}{
		{shopA, 5, 300}, // C S C S C: every thread waits for the shop
		{shopB, 4, 100}, // C S C S, except every third thread: C S C C
	} {
		threads := f.Sim.Threads(tc.shop)
		needed := 0
		for i, th := range threads {
			if len(th.Messages) != tc.mpt || !th.CreatedAt.Equal(th.Messages[0].At) || !th.UpdatedAt.Equal(th.Messages[tc.mpt-1].At) {
				t.Fatalf("thread %d: %d messages, created/updated do not match them", i, len(th.Messages))
			}
			if !sameTime(th.ReplyNeededSince, wantReplyNeeded(th.Messages, false)) {
				t.Fatalf("thread %d: reply needed since %v", i, th.ReplyNeededSince)
			}
			if th.ReplyNeededSince != nil {
				needed++
			}
		}
		if len(threads) != 300 || needed != tc.replyNeeded {
			t.Fatalf("shop %s: %d threads, %d need a reply; want 300 and %d", tc.shop, len(threads), needed, tc.replyNeeded)
		}
		key := map[string]string{shopA: keyA, shopB: keyB}[tc.shop]
		got := ids(f.walk(key, url.Values{"limit": {"100"}}, nil))
		if len(got) != 300 || !slices.Equal(got[:3], []string{threads[0].ID, threads[1].ID, threads[2].ID}) {
			t.Fatal("the walk over seeded threads does not follow the index")
		}
	}
	// With start t0, messages are a second apart.
	b := f.Sim.Threads(shopB)
	if d := b[0].Messages[1].At.Sub(b[0].Messages[0].At); d != time.Second || !b[0].CreatedAt.Equal(t0) {
		t.Fatalf("seeded messages %v apart from %v, want 1s from t0", d, b[0].CreatedAt)
	}
	// Later messages sort after the seed.
	id := b[0].ID
	f.Sim.AddMessage(shopB, id, Customer, "x", time.Time{})
	if b = f.Sim.Threads(shopB); b[len(b)-1].ID != id {
		t.Fatal("a new message does not move the thread to the end")
	}
}

// TestTrafficStepIsAMarketplace checks the mix of Mirakl's live traffic
// and its reply-needed times; the conformance suite checks the rest.
func TestTrafficStepIsAMarketplace(t *testing.T) {
	t.Parallel()
	run := func(seed uint64) (*Server, map[string]int) {
		s := New(Config{Now: sim.NewClock(t0).Now})
		s.AddShop(shopA, keyA)
		s.Seed(shopA, 20, 4, time.Time{})
		rnd := rand.New(rand.NewPCG(seed, 1))
		acts := map[string]int{}
		for range 3000 {
			acts[s.trafficStep(s.shops.Must(shopA), rnd)]++
		}
		return s, acts
	}
	s, acts := run(42)
	if n := acts[actNewThread]; n < 500 || n > 700 {
		t.Errorf("%d new threads in 3000 events, want about 20%%", n)
	}
	if n := acts[actCustomer]; n < 1200 || n > 1500 {
		t.Errorf("%d customer messages in 3000 events, want about 45%%", n)
	}
	if n := acts[actShopAnswer] + acts[actNone]; n < 900 || n > 1200 {
		t.Errorf("%d shop turns in 3000 events, want about 35%%", n)
	}
	threads := s.Threads(shopA)
	if len(threads) != 20+acts[actNewThread] {
		t.Fatalf("%d threads", len(threads))
	}
	for _, th := range threads {
		if !sameTime(th.ReplyNeededSince, wantReplyNeeded(th.Messages, false)) {
			t.Fatalf("thread %s: reply needed since %v disagrees with its messages", th.ID, th.ReplyNeededSince)
		}
	}
	// The same seed gives the same inbox, bodies included.
	if again, _ := run(42); !reflect.DeepEqual(threads, again.Threads(shopA)) {
		t.Fatal("Traffic with the same seed is not reproducible")
	}
}
