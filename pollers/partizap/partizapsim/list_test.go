package partizapsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// TestListShape checks one page against partizap.md §3: field names, types,
// the envelope, nulls.
func TestListShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	empty := f.Sim.AddThread(vendorA, NewThread{Buyer: "Olga", At: t0})
	id := f.Sim.AddThread(vendorA, NewThread{Buyer: "Ivan", Product: "BMW E46 front bumper", Price: 2500, At: t0.Add(time.Minute)})
	f.Sim.AddMessage(vendorA, id, Buyer, "Is it original?", t0.Add(2*time.Minute+400*time.Millisecond))

	r := f.Get(sessionA, "/vendor/conversations")
	if r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q", r.Header.Get("Content-Type"))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil || len(raw) != 2 || string(raw["meta"]) != `{"has_more":false,"next_cursor":null}` {
		t.Fatalf("envelope: %s", r.Body)
	}
	p := simtest.Decode[listPage[wireConv]](t, r)
	if len(p.Data) != 2 {
		t.Fatalf("%d conversations", len(p.Data))
	}
	c := p.Data[0] // newest activity first
	if string(c.ID) != strconv.FormatInt(id, 10) || string(c.ProductID) != string(c.Product.ID) || c.Product.Title != "BMW E46 front bumper" || c.Product.Price != 2500 {
		t.Fatalf("conversation: %+v", c)
	}
	if len(c.Product.Images) != 1 || idOf(t, c.Product.Seller.ID) != "5" || c.Product.Seller.Rating != "4.85" {
		t.Fatalf("product: %+v", c.Product)
	}
	if len(c.Participants) != 2 || idOf(t, c.Participants[0].ID) != "5" || c.Participants[1].DisplayName != "Ivan" || c.Participants[1].AvatarURL != nil {
		t.Fatalf("participants: %+v", c.Participants)
	}
	lm := c.LastMessage
	if lm == nil || lm.Text != "Is it original?" || lm.ImageURL != nil || lm.IsRead || !lm.IsDelivered ||
		string(lm.ConversationID) != string(c.ID) || string(lm.SenderID) != string(c.Participants[1].ID) {
		t.Fatalf("last_message: %+v", lm)
	}
	// RFC 3339 in Moscow, whole seconds.
	if c.CreatedAt != "2024-03-05T11:01:00+03:00" || c.UpdatedAt != "2024-03-05T11:02:00+03:00" || lm.CreatedAt != c.UpdatedAt {
		t.Fatalf("times: %s %s %s", c.CreatedAt, c.UpdatedAt, lm.CreatedAt)
	}
	if c.UnreadCount != 1 {
		t.Fatalf("unread_count %d", c.UnreadCount)
	}
	if e := p.Data[1]; string(e.ID) != strconv.FormatInt(empty, 10) || e.LastMessage != nil || !strings.Contains(string(r.Body), `"last_message":null`) {
		t.Fatalf("empty conversation: %+v", e)
	}
	// Rows of the other vendor are not there.
	if p := simtest.Decode[listPage[wireConv]](t, f.Get(sessionB, "/vendor/conversations")); len(p.Data) != 0 {
		t.Fatalf("vendor B sees %d conversations", len(p.Data))
	}
}

func TestTimeAndIDFormats(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{IDsAsStrings: true, TimeLayout: time.DateTime, Location: time.UTC})
	id := f.Sim.AddThread(vendorA, NewThread{At: t0})
	f.Sim.AddMessage(vendorA, id, Buyer, "hi", t0.Add(time.Second))
	r := f.Get(sessionA, "/vendor/conversations")
	for _, want := range []string{`"id":"` + strconv.FormatInt(id, 10) + `"`, `"sender_id":"`, `"created_at":"2024-03-05 08:00:00"`, `"updated_at":"2024-03-05 08:00:01"`} {
		if !strings.Contains(string(r.Body), want) {
			t.Fatalf("%s not in %s", want, r.Body)
		}
	}
}

func TestLimitAndCursorValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.Seed(vendorA, 25, 1, time.Time{})
	f.Sim.Seed(vendorB, 3, 1, time.Time{})
	if p := simtest.Decode[listPage[wireConv]](t, f.Get(sessionA, "/vendor/conversations")); len(p.Data) != 20 || !p.Meta.HasMore {
		t.Fatalf("default limit: %d rows, has_more %v", len(p.Data), p.Meta.HasMore)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=ten", "cursor=not-base64!", "cursor=eyJpZCI6NTAxMn0"} {
		r := f.Get(sessionA, "/vendor/conversations?"+q)
		if e, err := laravelError(r.Body); r.Status != http.StatusUnprocessableEntity || err != nil || len(e.Errors) != 1 {
			t.Errorf("%s: %d %.200s", q, r.Status, r.Body)
		}
	}
	// A cursor of vendor B does not serve vendor A.
	p := simtest.Decode[listPage[wireConv]](t, f.Get(sessionB, "/vendor/conversations?limit=1"))
	simtest.WantStatus(t, f.Get(sessionA, "/vendor/conversations?cursor="+*p.Meta.NextCursor), http.StatusUnprocessableEntity)
	// Nor a message cursor the conversation list.
	id := f.Sim.Threads(vendorA)[0].ID
	f.Sim.AddMessage(vendorA, id, Vendor, "x", time.Time{})
	mp := simtest.Decode[listPage[wireMessage]](t, f.Get(sessionA, messagesPath(id)+"?limit=1"))
	simtest.WantStatus(t, f.Get(sessionA, "/vendor/conversations?cursor="+*mp.Meta.NextCursor), http.StatusUnprocessableEntity)
}

// TestListOrders walks each order and cursor kind and checks the order
// and that every conversation comes once.
func TestListOrders(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{}, {Order: OldestFirst}, {OffsetCursor: true}, {OffsetCursor: true, Order: OldestFirst}} {
		f := newFixture(t, cfg)
		f.Sim.Seed(vendorA, 47, 2, time.Time{})
		// Move one to the front of the activity order.
		first := f.Sim.Threads(vendorA)[0].ID
		f.Sim.AddMessage(vendorA, first, Buyer, "again", time.Time{})
		byActivity := f.Sim.Threads(vendorA)
		slices.SortFunc(byActivity, func(a, b ThreadInfo) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
		var want []string
		for _, th := range byActivity {
			want = append(want, strconv.FormatInt(th.ID, 10))
		}
		if cfg.Order == NewestFirst {
			slices.Reverse(want)
		}
		for _, limit := range []int{1, 10, 47, 100} {
			if got, err := simtest.Walk(f.Client, sessionA, target.Lists[0], limit); err != nil || !slices.Equal(got, want) {
				t.Fatalf("%+v limit %d: %v, %v; want %v", cfg, limit, got, err, want)
			}
		}
	}
}

// TestKeysetWalkUnderWrites: with the default keyset cursor, a walk during
// writes lists every conversation that existed when it began and did not
// change, and never one twice.
func TestKeysetWalkUnderWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.Seed(vendorA, 30, 1, time.Time{})
	before := f.Sim.Threads(vendorA)
	var ids []string
	q := "/vendor/conversations?limit=7"
	for page := 0; ; page++ {
		p := simtest.Decode[listPage[wireConv]](t, f.Get(sessionA, q))
		for _, c := range p.Data {
			ids = append(ids, string(c.ID))
		}
		// Writes between pages: an old conversation changes, a new one opens.
		f.Sim.AddMessage(vendorA, before[page].ID, Buyer, "news", time.Time{})
		f.Sim.AddThread(vendorA, NewThread{})
		if !p.Meta.HasMore {
			break
		}
		q = "/vendor/conversations?limit=7&cursor=" + *p.Meta.NextCursor
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("conversation %s listed twice", id)
		}
		seen[id] = true
	}
	for i, th := range before {
		if id := strconv.FormatInt(th.ID, 10); !seen[id] && i >= 5 {
			t.Fatalf("unchanged conversation %s not listed", id)
		}
	}
}

func TestMessagesEndpoint(t *testing.T) {
	t.Parallel()
	for _, order := range []Order{NewestFirst, OldestFirst} {
		f := newFixture(t, Config{MessagesOrder: order})
		id := f.Sim.AddThread(vendorA, NewThread{At: t0})
		want := simtest.Converse(f.Sim, strconv.Itoa(vendorA), strconv.FormatInt(id, 10), 120, func(i int) bool { return i%3 == 2 })
		newest := want[len(want)-1]
		if order == NewestFirst {
			slices.Reverse(want)
		}
		base := messagesPath(id)
		for _, limit := range []string{"", "1", "7", "100"} {
			var got []string
			q := base + "?limit=" + limit
			pages := 0
			for {
				p := simtest.Decode[listPage[wireMessage]](t, f.Get(sessionA, q))
				pages++
				for _, m := range p.Data {
					got = append(got, string(m.ID))
				}
				if !p.Meta.HasMore {
					break
				}
				q = base + "?limit=" + limit + "&cursor=" + *p.Meta.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("order %d limit %q: %v", order, limit, got)
			}
			if limit == "" && pages != 3 {
				t.Fatalf("default limit: %d pages for 120 messages, want 3 (50 per page)", pages)
			}
		}
		// is_read: each side reads by writing. The vendor wrote last, so
		// only that message is unread (by the buyer).
		p := simtest.Decode[listPage[wireMessage]](t, f.Get(sessionA, base+"?limit=100"))
		for _, m := range p.Data {
			if m.IsRead == (string(m.ID) == newest) {
				t.Fatalf("message %s: is_read %v", m.ID, m.IsRead)
			}
		}
	}
	f := newFixture(t, Config{})
	idA := f.Sim.AddThread(vendorA, NewThread{})
	for _, p := range []string{"/vendor/conversations/999999/messages", "/vendor/conversations/abc/messages"} {
		simtest.WantStatus(t, f.Get(sessionA, p), http.StatusNotFound)
	}
	// Another vendor's conversation, and a limit of 101.
	simtest.WantStatus(t, f.Get(sessionB, messagesPath(idA)), http.StatusNotFound)
	simtest.WantStatus(t, f.Get(sessionA, messagesPath(idA)+"?limit=101"), http.StatusUnprocessableEntity)
}

func TestMessagesPathConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{MessagesPath: "/vendor/chats/{id}/history"})
	id := f.Sim.AddThread(vendorA, NewThread{})
	// The moved path answers, the default one is gone.
	simtest.WantStatus(t, f.Get(sessionA, "/vendor/chats/"+strconv.FormatInt(id, 10)+"/history"), http.StatusOK)
	simtest.WantStatus(t, f.Get(sessionA, messagesPath(id)), http.StatusNotFound)
	g := newFixture(t, Config{NoMessagesEndpoint: true})
	id = g.Sim.AddThread(vendorA, NewThread{})
	// No messages endpoint at all.
	simtest.WantStatus(t, g.Get(sessionA, messagesPath(id)), http.StatusNotFound)
}

// TestReadMarks: unread_count counts the buyer's messages the vendor has
// not read; the vendor reads by writing or by MarkRead, which also moves
// updated_at but not last_message.
func TestReadMarks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	id := f.Sim.AddThread(vendorA, NewThread{})
	simtest.Converse(f.Sim, strconv.Itoa(vendorA), strconv.FormatInt(id, 10), 2, func(int) bool { return false }) // two by the buyer
	conv := func() wireConv {
		return simtest.Decode[listPage[wireConv]](t, f.Get(sessionA, "/vendor/conversations")).Data[0]
	}
	c := conv()
	if c.UnreadCount != 2 || c.LastMessage.IsRead {
		t.Fatalf("before reading: %+v", c)
	}
	f.Clock.Advance(time.Minute)
	f.Sim.MarkRead(vendorA, id, time.Time{})
	r := conv()
	if r.UnreadCount != 0 || !r.LastMessage.IsRead || r.UpdatedAt == c.UpdatedAt || string(r.LastMessage.ID) != string(c.LastMessage.ID) {
		t.Fatalf("after reading: %+v", r)
	}
	th, _ := f.Sim.Thread(vendorA, id)
	if th.ReplyNeededSince == nil || !th.ReplyNeededSince.Equal(th.Messages[0].At) {
		t.Fatalf("reading is not answering: %+v", th)
	}
	f.Sim.AddMessage(vendorA, id, Vendor, "c", time.Time{})
	if c := conv(); c.UnreadCount != 0 || c.LastMessage.IsRead {
		t.Fatalf("after the vendor's answer: %+v", c)
	}
	f.Sim.AddMessage(vendorA, id, Buyer, "d", time.Time{})
	th, _ = f.Sim.Thread(vendorA, id)
	if th.ReplyNeededSince == nil || !th.ReplyNeededSince.Equal(th.Messages[3].At) || th.UnreadCount != 1 {
		t.Fatalf("new episode: %+v", th)
	}
}
