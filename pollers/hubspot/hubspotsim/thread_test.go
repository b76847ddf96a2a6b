package hubspotsim

import (
	"slices"
	"testing"
	"time"
)

func TestGroundTruthAndReplyNeeded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.sim.AddThread(portalA, NewThread{Visitor: "Jane", TicketID: "77", Welcome: "Hi!"})
	info, ok := f.sim.Thread(portalA, th)
	if !ok || info.ReplyNeeded || info.Status != StatusOpen || len(info.Messages) != 0 || len(info.Activity) != 1 ||
		info.Visitor != "Jane" || info.TicketID != "77" || info.InboxID != f.sim.InboxID(portalA) || info.ContactID == "" {
		t.Fatalf("new thread %+v", info)
	}
	in := f.sim.AddMessage(portalA, th, Visitor, "hello", time.Time{})
	if info, _ = f.sim.Thread(portalA, th); !info.ReplyNeeded {
		t.Fatal("a visitor message needs a reply")
	}
	out := f.sim.AddMessage(portalA, th, Agent, "hi Jane", time.Time{})
	f.sim.AddComment(portalA, th, "nice customer", time.Time{})
	if info, _ = f.sim.Thread(portalA, th); info.ReplyNeeded {
		t.Fatal("answered thread still needs a reply")
	}
	f.sim.SetStatus(portalA, th, StatusClosed, time.Time{})
	in2 := f.sim.AddMessage(portalA, th, Visitor, "one more thing", time.Time{})
	info, _ = f.sim.Thread(portalA, th)
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
	f.sim.SetStatus(portalA, th, StatusClosed, time.Time{})
	if info, _ = f.sim.Thread(portalA, th); info.ReplyNeeded {
		t.Fatal("closed thread needs a reply")
	}
	if _, ok := f.sim.Thread(portalA, "1"); ok {
		t.Fatal("unknown thread found")
	}
	if f.sim.Threads("nope") != nil {
		t.Fatal("unknown account has threads")
	}
}

// TestTimesStrictlyIncreaseOnAStoppedClock: the clock stands still, yet
// every entry gets a later time, to the millisecond.
func TestTimesStrictlyIncreaseOnAStoppedClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	a := f.sim.AddThread(portalA, NewThread{})
	b := f.sim.AddThread(portalA, NewThread{})
	for i := range 5 {
		f.sim.AddMessage(portalA, []string{a, b}[i%2], Visitor, "x", time.Time{})
	}
	var times []time.Time
	for _, th := range f.sim.Threads(portalA) {
		if th.CreatedAt.Before(f.clock.Now()) {
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
	c := f.sim.AddThread(portalB, NewThread{})
	if info, _ := f.sim.Thread(portalB, c); !info.CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("created %v", info.CreatedAt)
	}
}

// TestExplicitPastTimesKeepMessagesSorted: a message added with an earlier
// time takes its place in the history.
func TestExplicitPastTimesKeepMessagesSorted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.sim.AddThread(portalA, NewThread{At: t0})
	late := f.sim.AddMessage(portalA, th, Agent, "late", t0.Add(time.Minute))
	early := f.sim.AddMessage(portalA, th, Visitor, "early", t0.Add(time.Second))
	info, _ := f.sim.Thread(portalA, th)
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
	th := f.sim.AddThread(portalA, NewThread{})
	for name, fn := range map[string]func(){
		"unknown account":      func() { f.sim.AddThread("nope", NewThread{}) },
		"unknown thread":       func() { f.sim.AddMessage(portalA, "1", Visitor, "x", time.Time{}) },
		"zero sender":          func() { f.sim.AddMessage(portalA, th, 0, "x", time.Time{}) },
		"bad status":           func() { f.sim.SetStatus(portalA, th, "PENDING", time.Time{}) },
		"archive unknown":      func() { f.sim.SetArchived(portalA, "1", true) },
		"empty token":          func() { f.sim.AddAccount(portalA, "") },
		"nil time zone":        func() { f.sim.SetTimeZone(portalA, nil) },
		"seed unknown account": func() { f.sim.Seed("nope", 1, 1, time.Time{}) },
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
	if Visitor.String() != "INCOMING" || Agent.String() != "OUTGOING" || Sender(9).String() != "Sender(9)" {
		t.Fatal("Sender.String")
	}
}
