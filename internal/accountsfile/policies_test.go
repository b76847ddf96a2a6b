package accountsfile

import (
	"strings"
	"testing"
	"time"
)

// TestLoadAccountsSLA reads named reply policies, a default and each
// account's choice.
func TestLoadAccountsSLA(t *testing.T) {
	t.Parallel()
	path := writeAccounts(t, `
sla_policies:
  support-hours:
    reply_within: 4h
    warn_before: 30m
    calendar:
      timezone: Europe/Paris
      hours: {mon-fri: "09:00-12:30,13:30-18:00", sat: "10:00-13:00"}
      holidays: ["2026-12-25", "2027-01-01"]
  fast:
    reply_within: 15m
default_sla: support-hours
accounts:
  - {provider: mirakl, id: a, base_url: "https://x", token: k1}
  - {provider: mirakl, id: b, base_url: "https://x", token: k2, sla: fast}
  - {provider: mirakl, id: c, base_url: "https://x", token: k3, sla: none}
`, nil)
	got, err := Load(path, envLookup(nil), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p := got[0].SLA; p == nil || p.Name != "support-hours" || p.ReplyWithin != 4*time.Hour || p.WarnBefore != 30*time.Minute || p.Calendar == nil {
		t.Fatalf("account a: %+v, want support-hours by default", p)
	}
	// Monday 2026-11-30 17:00 Paris: 1h that day, 3h on Tuesday morning
	// (09:00-12:00).
	since := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	if due := got[0].SLA.Due(since); !due.Equal(time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("due %v", due)
	}
	if p := got[1].SLA; p == nil || p.Name != "fast" || p.Calendar != nil {
		t.Fatalf("account b: %+v, want fast", p)
	}
	if got[2].SLA != nil {
		t.Fatalf("account c: %+v, want none", got[2].SLA)
	}
	// The same file read again gives accounts equal to these: a reload
	// leaves them undisturbed.
	again, _ := Load(path, envLookup(nil), time.Second)
	for i := range got {
		if !got[i].SLA.Equal(again[i].SLA) {
			t.Fatalf("account %d: policy differs on a second read", i)
		}
	}
}

func TestLoadAccountsSLAErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, yaml, want string }{
		{"unknown policy", "accounts:\n" + validAccount + "    sla: gold\n",
			`account 1 (mirakl/shop-1): sla: "gold" is not a policy of sla_policies (the file defines none)`},
		{"unknown default", "default_sla: gold\nsla_policies:\n  fast: {reply_within: 1h}\naccounts:\n" + validAccount,
			`default_sla: "gold" is not a policy of sla_policies (fast, or none)`},
		{"bad duration", "sla_policies:\n  fast: {reply_within: 1d}\naccounts:\n" + validAccount,
			`sla_policies.fast: line 2: sla policy "fast": reply_within: "1d" is not a duration`},
		{"unknown field", "sla_policies:\n  fast: {reply_within: 1h, warn: 5m}\naccounts:\n" + validAccount,
			`sla_policies.fast: line 2: yaml: unmarshal errors:`},
		{"warning too late", "sla_policies:\n  fast: {reply_within: 1h, warn_before: 2h}\naccounts:\n" + validAccount,
			`warn_before: "2h" must be less than reply_within "1h"`},
		{"host's zone", "sla_policies:\n  fast:\n    reply_within: 1h\n    calendar: {timezone: Local, hours: {mon: \"09:00-17:00\"}}\naccounts:\n" + validAccount,
			`sla_policies.fast: line 3: sla policy "fast": calendar.timezone`},
		{"not a mapping", "sla_policies: [fast]\naccounts:\n" + validAccount,
			`sla_policies: must be a mapping of policy name: policy (line 1)`},
		{"reserved name", "sla_policies:\n  none: {reply_within: 1h}\naccounts:\n" + validAccount,
			`reserved`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeAccounts(t, tt.yaml, nil), envLookup(nil), time.Second)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
