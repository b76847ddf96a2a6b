package pollers

import (
	"fmt"
	"testing"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sla"
)

// story renders a thread's events: C, M:<id>, R:<since minute> (ReplyNeeded),
// X:<since minute>:<resolution>[:<answer>][:late] (ReplyResolved), W and B
// (warning and breach) with their episode's minute.
func story(evs []events.Event) []string { return render(evs, false) }

// kinds renders what derive's own tests look at: C, M:<id> and
// R:<since minute>:<last inbound id>.
func kinds(evs []events.Event) []string { return render(evs, true) }

func render(evs []events.Event, brief bool) []string {
	var out []string
	for _, e := range evs {
		switch d := e.Data.(type) {
		case *events.ThreadCreatedData:
			out = append(out, "C")
		case *events.MessageReceivedData:
			out = append(out, "M:"+d.Message.ID)
		case *events.ReplyNeededData:
			s := "R:" + d.NeededSince.Format("04")
			if brief {
				s += ":" + d.LastInboundMessageID
			}
			out = append(out, s)
		case *events.ReplyResolvedData:
			if brief {
				continue
			}
			s := "X:" + d.NeededSince.Format("04") + ":" + string(d.Resolution)
			if d.AnswerMessageID != "" {
				s += ":" + d.AnswerMessageID
			}
			if d.WithinSLA != nil && !*d.WithinSLA {
				s += ":late"
			}
			out = append(out, s)
		case *events.ReplySLAData:
			if brief {
				continue
			}
			k := "W"
			if e.Type == events.ReplySLABreached {
				k = "B"
			}
			out = append(out, k+":"+d.NeededSince.Format("04"))
		}
	}
	return out
}

// TestEpisodes walks threads through looks (each a poll) and checks the
// episode events, for providers that derive reply-needed from message
// directions and for one that states it.
func TestEpisodes(t *testing.T) {
	t.Parallel()
	in, out := events.Inbound, events.Outbound
	p10, err := sla.Parse("ten", sla.Spec{ReplyWithin: "10m", WarnBefore: "4m"})
	if err != nil {
		t.Fatal(err)
	}
	type look struct {
		msgs   []events.Message
		since  int // stated reply-needed minute; -1 for none
		closed bool
		want   []string
	}
	cases := []struct {
		name   string
		stated bool
		policy *sla.Policy
		looks  []look
	}{
		{"answered", false, nil, []look{
			{[]events.Message{msg("m1", 1, in)}, -1, false, []string{"C", "M:m1", "R:01"}},
			{[]events.Message{msg("m2", 2, out)}, -1, false, []string{"M:m2", "X:01:answered:m2"}},
		}},
		{"answer and ask again between two looks", false, nil, []look{
			{[]events.Message{msg("m1", 1, in)}, -1, false, []string{"C", "M:m1", "R:01"}},
			{[]events.Message{msg("m2", 2, out), msg("m3", 3, in)}, -1, false, []string{"M:m2", "X:01:answered:m2", "M:m3", "R:03"}},
		}},
		{"opened and answered between two looks is never announced", false, nil, []look{
			{[]events.Message{msg("m1", 1, out)}, -1, false, []string{"C", "M:m1"}},
			{[]events.Message{msg("m2", 2, in), msg("m3", 3, out)}, -1, false, []string{"M:m2", "M:m3"}},
		}},
		{"closed", false, nil, []look{
			{[]events.Message{msg("m1", 1, in)}, -1, false, []string{"C", "M:m1", "R:01"}},
			{nil, -1, true, []string{"X:01:closed"}},
			{[]events.Message{msg("m2", 5, in)}, -1, false, []string{"M:m2", "R:05"}},
		}},
		{"stated: answer and ask again between two looks", true, nil, []look{
			{[]events.Message{msg("m1", 1, in)}, 1, false, []string{"C", "M:m1", "R:01"}},
			{[]events.Message{msg("m2", 2, out), msg("m3", 3, in)}, 3, false, []string{"M:m2", "X:01:answered:m2", "M:m3", "R:03"}},
		}},
		{"stated: the date moves while pending", true, nil, []look{
			{[]events.Message{msg("m1", 1, in)}, 1, false, []string{"C", "M:m1", "R:01"}},
			{[]events.Message{msg("m2", 2, in)}, 2, false, []string{"M:m2"}},
		}},
		{"stated: no reply needed", true, nil, []look{
			{[]events.Message{msg("m1", 1, in)}, 1, false, []string{"C", "M:m1", "R:01"}},
			{nil, -1, false, []string{"X:01:no_reply_needed"}},
		}},
		{"stated: a listing older than the answer opens nothing", true, nil, []look{
			{[]events.Message{msg("m1", 1, in)}, 1, false, []string{"C", "M:m1", "R:01"}},
			{[]events.Message{msg("m2", 2, out)}, 1, false, []string{"M:m2", "X:01:answered:m2"}},
		}},
		{"policy: answered late sends the warning and the breach first", false, p10, []look{
			{[]events.Message{msg("m1", 1, in)}, -1, false, []string{"C", "M:m1", "R:01"}},
			{[]events.Message{msg("m2", 20, out)}, -1, false, []string{"M:m2", "W:01", "B:01", "X:01:answered:m2:late"}},
		}},
		{"policy: answered after the warning, in time", false, p10, []look{
			{[]events.Message{msg("m1", 1, in)}, -1, false, []string{"C", "M:m1", "R:01"}},
			{[]events.Message{msg("m2", 8, out)}, -1, false, []string{"M:m2", "W:01", "X:01:answered:m2"}},
		}},
		{"policy: answered at the deadline is in time", false, p10, []look{
			{[]events.Message{msg("m1", 1, in)}, -1, false, []string{"C", "M:m1", "R:01"}},
			{[]events.Message{msg("m2", 11, out)}, -1, false, []string{"M:m2", "W:01", "X:01:answered:m2"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var prev *checkpoint.ThreadState
			for i, l := range c.looks {
				item := &Item{Thread: events.Thread{ID: "t"}, Version: fmt.Sprint("v", i), Closed: l.closed, UpdatedAt: at(30)}
				if l.since >= 0 {
					s := at(l.since)
					item.ReplyNeededSince = &s
				}
				if len(l.msgs) > 0 {
					item.LastMessageAt = l.msgs[len(l.msgs)-1].CreatedAt
				}
				d := derive(deriveInput{origin: testOrigin, item: item, prev: prev, msgs: l.msgs, stated: c.stated, policy: c.policy, now: at(40)})
				if got := story(d.events); !equal(got, l.want) {
					t.Fatalf("look %d: events %v, want %v", i, got, l.want)
				}
				prev = &d.state
			}
		})
	}
}

// TestEpisodeTimersAndCounts checks what a commit is asked to do with the
// timers and the open-episode count.
func TestEpisodeTimersAndCounts(t *testing.T) {
	t.Parallel()
	p, err := sla.Parse("ten", sla.Spec{ReplyWithin: "10m", WarnBefore: "4m"})
	if err != nil {
		t.Fatal(err)
	}
	item := func(v string) *Item { return &Item{Thread: events.Thread{ID: "t"}, Version: v} }
	d := derive(deriveInput{origin: testOrigin, item: item("v1"), msgs: []events.Message{msg("m1", 1, events.Inbound)}, policy: p, now: at(2)})
	want := []checkpoint.Timer{{Kind: checkpoint.Breach, Thread: "t", At: at(11)}, {Kind: checkpoint.Warning, Thread: "t", At: at(7)}}
	if d.cancel || d.open != 1 || len(d.timers) != 2 || d.timers[0] != want[0] || d.timers[1] != want[1] {
		t.Fatalf("opening: cancel %v open %d timers %+v, want %+v", d.cancel, d.open, d.timers, want)
	}
	rn := d.events[len(d.events)-1].Data.(*events.ReplyNeededData)
	if rn.Policy != "ten" || !rn.DueAt.Equal(at(11)) || !rn.WarnAt.Equal(at(7)) {
		t.Fatalf("ReplyNeeded %+v", rn)
	}
	// Another inbound message in the same episode changes nothing.
	st := d.state
	d = derive(deriveInput{origin: testOrigin, item: item("v2"), prev: &st, msgs: []events.Message{msg("m2", 2, events.Inbound)}, policy: p, now: at(3)})
	if d.cancel || d.open != 0 || len(d.timers) != 0 {
		t.Fatalf("same episode: cancel %v open %d timers %+v", d.cancel, d.open, d.timers)
	}
	// Answer and ask again: the old timers go, the new episode's come.
	st = d.state
	d = derive(deriveInput{origin: testOrigin, item: item("v3"), prev: &st, msgs: []events.Message{msg("m3", 3, events.Outbound), msg("m4", 4, events.Inbound)}, policy: p, now: at(5)})
	if !d.cancel || d.open != 0 || len(d.timers) != 2 || !d.timers[0].At.Equal(at(14)) {
		t.Fatalf("answer and ask again: cancel %v open %d timers %+v", d.cancel, d.open, d.timers)
	}
	// Answered: timers cancelled, one episode fewer.
	st = d.state
	d = derive(deriveInput{origin: testOrigin, item: item("v4"), prev: &st, msgs: []events.Message{msg("m5", 5, events.Outbound)}, policy: p, now: at(6)})
	if !d.cancel || d.open != -1 || len(d.timers) != 0 || !d.state.DueAt.IsZero() {
		t.Fatalf("answered: cancel %v open %d timers %+v state %+v", d.cancel, d.open, d.timers, d.state)
	}
	// A warning the timer already sent is not sent again on a late answer.
	d = derive(deriveInput{origin: testOrigin, item: item("v1"), msgs: []events.Message{msg("m1", 1, events.Inbound)}, policy: p, now: at(2)})
	st = d.state
	st.Warned, st.Breached = true, true
	d = derive(deriveInput{origin: testOrigin, item: item("v2"), prev: &st, msgs: []events.Message{msg("m2", 30, events.Outbound)}, policy: p, now: at(31)})
	if got, want := story(d.events), []string{"M:m2", "X:01:answered:m2:late"}; !equal(got, want) {
		t.Fatalf("late answer after the timers fired: %v, want %v", got, want)
	}
	// Recorded silently: a quiet episode, no timers, nothing when answered.
	d = derive(deriveInput{origin: testOrigin, item: item("v1"), msgs: []events.Message{msg("m1", 1, events.Inbound)}, policy: p, silent: true, now: at(2)})
	if len(d.events) != 0 || len(d.timers) != 0 || d.open != 0 || !d.state.Quiet {
		t.Fatalf("silent: events %v timers %+v open %d state %+v", story(d.events), d.timers, d.open, d.state)
	}
	st = d.state
	d = derive(deriveInput{origin: testOrigin, item: item("v2"), prev: &st, msgs: []events.Message{msg("m2", 2, events.Outbound), msg("m3", 3, events.Inbound)}, policy: p, now: at(4)})
	if got, want := story(d.events), []string{"M:m2", "M:m3", "R:03"}; !equal(got, want) || d.cancel || d.open != 1 {
		t.Fatalf("after a quiet episode: %v (cancel %v, open %d), want %v", got, d.cancel, d.open, want)
	}
}
