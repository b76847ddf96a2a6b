package events

import (
	"fmt"
	"strings"
	"time"
)

// clock is a time of day in the local zone, with the date when not today.
func clock(t time.Time) string {
	t = t.Local()
	if y, m, d := t.Date(); y != time.Now().Year() || m != time.Now().Month() || d != time.Now().Day() {
		return t.Format("Jan 2 15:04:05")
	}
	return t.Format("15:04:05")
}

// Describe renders a stored event as one line for a person (what
// `threadsync tail` prints): its time, account, type and thread, and what it
// says. An event it cannot read is shown with the reason.
func Describe(raw []byte) string {
	env, err := ParseEnvelope(raw)
	if err != nil {
		return "?? " + err.Error()
	}
	src := strings.TrimPrefix(env.Source, "threadsync/")
	what := "thread=" + env.Subject
	if env.Type.IsAccount() {
		what = "account"
	}
	head := fmt.Sprintf("%s  %-22s %-16s %s", env.Time.Local().Format("15:04:05"), src, env.Type, what)
	d, err := DecodeData(env)
	if err != nil {
		return head + "  ?? " + err.Error()
	}
	switch d := d.(type) {
	case *ThreadCreatedData:
		return fmt.Sprintf("%s  %q ref=%s:%s", head, d.Thread.Topic, d.Thread.Reference.Type, d.Thread.Reference.ID)
	case *MessageReceivedData:
		arrow := "<-"
		if d.Message.Direction == Outbound {
			arrow = "->"
		}
		text := d.Message.Text
		if len(text) > 60 {
			text = text[:57] + "..."
		}
		return fmt.Sprintf("%s  %s %s: %q", head, arrow, d.Message.Sender.Name, text)
	case *ReplyNeededData:
		line := fmt.Sprintf("%s  waiting since %s (message %s)", head, clock(d.NeededSince), d.LastInboundMessageID)
		if d.DueAt != nil {
			line += fmt.Sprintf("; %s: due %s", d.Policy, clock(*d.DueAt))
		}
		return line
	case *ReplySLAData:
		line := fmt.Sprintf("%s  %s: waiting since %s, due %s", head, d.Policy, clock(d.NeededSince), clock(d.DueAt))
		if d.Confirmed != nil && !*d.Confirmed {
			line += " (unconfirmed: the account could not be polled at the deadline)"
		}
		return line
	case *ReplyResolvedData:
		line := fmt.Sprintf("%s  %s after %s", head, d.Resolution, time.Duration(d.ResponseSeconds*float64(time.Second)).Round(time.Second))
		if d.AnswerMessageID != "" {
			line += " by message " + d.AnswerMessageID
		}
		if d.WithinSLA != nil {
			verdict := "within"
			if !*d.WithinSLA {
				verdict = "missed"
			}
			line += fmt.Sprintf("; %s %s", d.Policy, verdict)
		}
		return line
	case *AccountData:
		line := head
		if d.Failures > 0 {
			line += fmt.Sprintf("  %d failed polls", d.Failures)
		}
		if d.Error != "" {
			line += fmt.Sprintf("; %s: %s", d.ErrorClass, d.Error)
		}
		if d.By != "" {
			line += "  by " + d.By
		}
		if d.Reason != "" {
			line += fmt.Sprintf(": %q", d.Reason)
		}
		if d.Mark != nil {
			line += fmt.Sprintf("  last synced %s; %s", clock(*d.Mark), d.Action)
		}
		return line
	}
	return head
}
