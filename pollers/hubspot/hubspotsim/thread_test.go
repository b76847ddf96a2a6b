package hubspotsim

import (
	"slices"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

func TestGroundTruthAndReplyNeeded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(portalA, NewThread{Visitor: "Jane", TicketID: "77", Welcome: "Hi!"})
	info, ok := f.Sim.Thread(portalA, th)
	if !ok || info.ReplyNeeded || info.Status != StatusOpen || len(info.Messages) != 0 || len(info.Activity) != 1 ||
		info.Visitor != "Jane" || info.TicketID != "77" || info.InboxID != f.Sim.InboxID(portalA) || info.ContactID == "" {
		t.Fatalf("new thread %+v", info)
	}
	in := f.Sim.AddMessage(portalA, th, Visitor, "hello", time.Time{})
	if info, _ = f.Sim.Thread(portalA, th); !info.ReplyNeeded {
		t.Fatal("a visitor message needs a reply")
	}
	out := f.Sim.AddMessage(portalA, th, Agent, "hi Jane", time.Time{})
	f.Sim.AddComment(portalA, th, "nice customer", time.Time{})
	if info, _ = f.Sim.Thread(portalA, th); info.ReplyNeeded {
		t.Fatal("answered thread still needs a reply")
	}
	f.Sim.SetStatus(portalA, th, StatusClosed, time.Time{})
	in2 := f.Sim.AddMessage(portalA, th, Visitor, "one more thing", time.Time{})
	info, _ = f.Sim.Thread(portalA, th)
	if info.Status != StatusOpen || !info.ReplyNeeded {
		t.Fatalf("a visitor writing in a closed thread: %+v", info)
	}
	var got []string
	for _, m := range info.Messages {
		got = append(got, m.ID+" "+m.Direction)
	}
	if want := []string{in + " inbound", out + " outbound", in2 + " inbound"}; !slices.Equal(got, want) {
		t.Fatalf("messages %v, want %v", got, want)
	}
	if len(info.Activity) != 2 || info.Activity[0].Type != TypeWelcome || info.Activity[1].Type != TypeComment || info.Activity[1].Direction != "" {
		t.Fatalf("activity %+v", info.Activity)
	}
	if !info.LatestMessageAt.Equal(info.Messages[2].At) {
		t.Fatalf("latest %v, last message %v", info.LatestMessageAt, info.Messages[2].At)
	}
	// A closed thread needs no reply, even with the visitor's word last.
	f.Sim.SetStatus(portalA, th, StatusClosed, time.Time{})
	if info, _ = f.Sim.Thread(portalA, th); info.ReplyNeeded {
		t.Fatal("closed thread needs a reply")
	}
	if _, ok := f.Sim.Thread(portalA, "1"); ok {
		t.Fatal("unknown thread found")
	}
	if f.Sim.Threads("nope") != nil {
		t.Fatal("unknown account has threads")
	}
}

// TestTimesStrictlyIncreaseOnAStoppedClock: the clock stands still, yet
// every entry gets a later time, to the millisecond.
func TestTimesStrictlyIncreaseOnAStoppedClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := f.Sim.AddThread(portalA, NewThread{})
	b := f.Sim.AddThread(portalA, NewThread{})
	for i := range 5 {
		f.Sim.AddMessage(portalA, []string{a, b}[i%2], Visitor, "x", time.Time{})
	}
	var times []time.Time
	for _, th := range f.Sim.Threads(portalA) {
		if th.CreatedAt.Before(f.Clock.Now()) {
			t.Fatalf("created %v before the clock", th.CreatedAt)
		}
		for _, m := range th.Messages {
			times = append(times, m.At)
		}
	}
	slices.SortFunc(times, time.Time.Compare)
	for i := 1; i < len(times); i++ {
		if !times[i].After(times[i-1]) || times[i].Sub(times[i-1]) < time.Millisecond {
			t.Fatalf("times %v", times)
		}
	}
	// Account B has a clock of its own: it starts at now again.
	c := f.Sim.AddThread(portalB, NewThread{})
	if info, _ := f.Sim.Thread(portalB, c); !info.CreatedAt.Equal(f.Clock.Now()) {
		t.Fatalf("created %v", info.CreatedAt)
	}
}

// TestExplicitPastTimesKeepMessagesSorted: a message added with an earlier
// time takes its place in the history.
func TestExplicitPastTimesKeepMessagesSorted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(portalA, NewThread{At: t0})
	late := f.Sim.AddMessage(portalA, th, Agent, "late", t0.Add(time.Minute))
	early := f.Sim.AddMessage(portalA, th, Visitor, "early", t0.Add(time.Second))
	info, _ := f.Sim.Thread(portalA, th)
	if info.Messages[0].ID != early || info.Messages[1].ID != late || info.ReplyNeeded {
		t.Fatalf("%+v", info)
	}
	if !info.LatestMessageAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("latest %v", info.LatestMessageAt)
	}
}

func TestMisuseIsAPanic(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(portalA, NewThread{})
	simtest.WantPanics(t, map[string]func(){
		"unknown account":      func() { f.Sim.AddThread("nope", NewThread{}) },
		"unknown thread":       func() { f.Sim.AddMessage(portalA, "1", Visitor, "x", time.Time{}) },
		"zero sender":          func() { f.Sim.AddMessage(portalA, th, 0, "x", time.Time{}) },
		"bad status":           func() { f.Sim.SetStatus(portalA, th, "PENDING", time.Time{}) },
		"archive unknown":      func() { f.Sim.SetArchived(portalA, "1", true) },
		"empty token":          func() { f.Sim.AddAccount(portalA, "") },
		"nil time zone":        func() { f.Sim.SetTimeZone(portalA, nil) },
		"seed unknown account": func() { f.Sim.Seed("nope", 1, 1, time.Time{}) },
	})
	if Visitor.String() != "INCOMING" || Agent.String() != "OUTGOING" || Sender(9).String() != "Sender(9)" {
		t.Fatal("Sender.String")
	}
}

// TestSeed checks what HubSpot's Seed adds to the layout the conformance
// suite checks: closed threads, welcome messages and tickets, and the
// order by latest message.
func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.Seed(portalA, 30, 4, time.Time{})
	ths := f.Sim.Threads(portalA)
	var pending, closed, welcomes, tickets int
	for _, th := range ths {
		if th.ReplyNeeded {
			pending++
		}
		if th.Status == StatusClosed {
			closed++
		}
		welcomes += len(th.Activity)
		if th.TicketID != "" {
			tickets++
		}
	}
	if len(ths) != 30 || pending != 10 || closed != 10 || welcomes != 7 || tickets != 6 {
		t.Fatalf("%d threads: pending %d, closed %d, welcome messages %d, tickets %d", len(ths), pending, closed, welcomes, tickets)
	}
	// Later messages sort after the seeded ones.
	f.Sim.AddMessage(portalA, ths[0].ID, Visitor, "again", time.Time{})
	q := "sort=latestMessageTimestamp&latestMessageTimestampAfter=2000-01-01T00:00:00Z&limit=100"
	if got := f.walk(tokA, q); got[len(got)-1] != ths[0].ID {
		t.Fatalf("walk by latest ends with %s", got[len(got)-1])
	}
	// Seeding again appends.
	f.Sim.Seed(portalA, 5, 0, time.Time{})
	if got := f.walk(tokA, ""); len(got) != 35 {
		t.Fatalf("%d threads after a second seed", len(got))
	}
}
