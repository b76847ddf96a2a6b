package sla

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the host's zoneinfo
)

// supportHours is the policy of the package documentation.
func supportHours() Spec {
	return Spec{ReplyWithin: "4h", WarnBefore: "30m", Calendar: &CalendarSpec{
		Timezone: "Europe/Paris",
		Hours:    map[string]string{"mon-fri": "09:00-12:30,13:30-18:00", "sat": "10:00-13:00"},
		Holidays: []string{"2026-12-25", "2027-01-01"},
	}}
}

func mustParse(t testing.TB, name string, spec Spec) *Policy {
	t.Helper()
	p, err := Parse(name, spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustCalendar(t testing.TB, zone string, hours map[string]string, holidays ...string) *Calendar {
	t.Helper()
	c, err := ParseCalendar(CalendarSpec{Timezone: zone, Hours: hours, Holidays: holidays})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// local reads "2006-01-02 15:04" in loc.
func local(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkUTC fails unless got is want's instant, in UTC.
func checkUTC(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want %v (in UTC)", what, got, want.UTC())
	}
}

func TestDueParis(t *testing.T) {
	p := mustParse(t, "support-hours", supportHours())
	paris := zone(t, "Europe/Paris")
	// 2026-06-01 is a Monday; 2026-12-25 and 2027-01-01 are holidays, both Fridays.
	tests := []struct{ name, since, due string }{
		{"Monday 10:00, across lunch", "2026-06-01 10:00", "2026-06-01 15:00"},
		{"Monday 09:00", "2026-06-01 09:00", "2026-06-01 14:00"},
		{"before opening", "2026-06-01 07:00", "2026-06-01 14:00"},
		{"Friday 17:00 into Saturday", "2026-06-05 17:00", "2026-06-06 13:00"},
		{"Friday at closing", "2026-06-05 18:00", "2026-06-08 10:00"},
		{"Saturday 12:30 over Sunday", "2026-06-06 12:30", "2026-06-08 12:30"},
		{"Sunday", "2026-06-07 11:00", "2026-06-08 14:00"},
		{"lunch break", "2026-06-02 12:45", "2026-06-02 17:30"},
		{"ends exactly at a closing", "2026-06-02 08:30", "2026-06-02 14:00"},
		{"Tuesday 16:00", "2026-06-02 16:00", "2026-06-03 11:00"},
		{"Christmas", "2026-12-25 10:00", "2026-12-28 10:00"},
		{"Christmas Eve over Christmas", "2026-12-24 17:00", "2026-12-26 13:00"},
		{"New Year's Eve over New Year's Day", "2026-12-31 16:00", "2027-01-02 12:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			since := local(t, paris, tt.since)
			checkUTC(t, "Due", p.Due(since), local(t, paris, tt.due))
			// The location of since does not matter.
			checkUTC(t, "Due from UTC", p.Due(since.UTC()), local(t, paris, tt.due))
			checkUTC(t, "Due from New York", p.Due(since.In(zone(t, "America/New_York"))), local(t, paris, tt.due))
			if got := p.Business(since, p.Due(since)); got != p.ReplyWithin {
				t.Errorf("Business(since, Due) = %v, want %v", got, p.ReplyWithin)
			}
		})
	}
}

func TestWarn(t *testing.T) {
	p := mustParse(t, "support-hours", supportHours())
	paris := zone(t, "Europe/Paris")
	tests := []struct{ name, since, warn, due string }{
		// Warned at the start of lunch: 30 open minutes then remain.
		{"Monday 09:00", "2026-06-01 09:00", "2026-06-01 12:30", "2026-06-01 14:00"},
		{"across lunch", "2026-06-01 17:45", "2026-06-02 12:15", "2026-06-02 13:45"},
		{"across the weekend", "2026-06-05 17:15", "2026-06-06 12:45", "2026-06-08 09:15"},
		{"starting closed", "2026-06-07 11:00", "2026-06-08 12:30", "2026-06-08 14:00"},
		{"same morning", "2026-06-01 13:30", "2026-06-01 17:00", "2026-06-01 17:30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			since := local(t, paris, tt.since)
			warn, due := p.Warn(since), p.Due(since)
			checkUTC(t, "Warn", warn, local(t, paris, tt.warn))
			checkUTC(t, "Due", due, local(t, paris, tt.due))
			if got := p.Business(warn, due); got != p.WarnBefore {
				t.Errorf("Business(Warn, Due) = %v, want %v", got, p.WarnBefore)
			}
			if start := p.Calendar.NextOpen(since); warn.Before(start) {
				t.Errorf("Warn %v before counting starts at %v", warn, start)
			}
		})
	}

	t.Run("no warn_before", func(t *testing.T) {
		s := supportHours()
		s.WarnBefore = ""
		if w := mustParse(t, "p", s).Warn(time.Now()); !w.IsZero() {
			t.Errorf("Warn = %v, want zero", w)
		}
		s.WarnBefore = "0s"
		if w := mustParse(t, "p", s).Warn(time.Now()); !w.IsZero() {
			t.Errorf("Warn with 0s = %v, want zero", w)
		}
	})
}

func TestNoCalendar(t *testing.T) {
	p := mustParse(t, "around-the-clock", Spec{ReplyWithin: "24h", WarnBefore: "1h"})
	since := local(t, zone(t, "Europe/Paris"), "2027-03-28 00:00") // a DST change changes nothing
	checkUTC(t, "Due", p.Due(since), since.Add(24*time.Hour))
	checkUTC(t, "Warn", p.Warn(since), since.Add(23*time.Hour))
	if got := p.Business(since, since.Add(90*time.Minute)); got != 90*time.Minute {
		t.Errorf("Business = %v, want 1h30m", got)
	}
	if got := p.Business(since, since.Add(-time.Hour)); got != 0 {
		t.Errorf("Business backwards = %v, want 0", got)
	}
}

func TestBusiness(t *testing.T) {
	p := mustParse(t, "support-hours", supportHours())
	paris := zone(t, "Europe/Paris")
	tests := []struct {
		a, b string
		want time.Duration
	}{
		{"2026-06-01 09:00", "2026-06-02 09:00", 8 * time.Hour},
		{"2026-06-05 17:00", "2026-06-08 10:00", 5 * time.Hour},
		{"2026-06-01 12:00", "2026-06-01 14:00", time.Hour},
		{"2026-06-01 12:30", "2026-06-01 13:30", 0},
		{"2026-06-01 00:00", "2026-06-08 00:00", 5*8*time.Hour + 3*time.Hour},
		{"2026-12-21 00:00", "2026-12-28 00:00", 4*8*time.Hour + 3*time.Hour}, // Christmas week
		{"2026-06-02 10:00", "2026-06-01 10:00", 0},
		{"2026-06-02 10:00", "2026-06-02 10:00", 0},
	}
	for _, tt := range tests {
		a, b := local(t, paris, tt.a), local(t, paris, tt.b)
		if got := p.Business(a, b); got != tt.want {
			t.Errorf("Business(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNextOpen(t *testing.T) {
	c := mustParse(t, "support-hours", supportHours()).Calendar
	paris := zone(t, "Europe/Paris")
	tests := []struct{ t, want string }{
		{"2026-06-01 10:00", "2026-06-01 10:00"}, // open
		{"2026-06-01 09:00", "2026-06-01 09:00"}, // at an opening
		{"2026-06-01 12:30", "2026-06-01 13:30"}, // at a closing
		{"2026-06-01 12:45", "2026-06-01 13:30"},
		{"2026-06-05 18:00", "2026-06-06 10:00"},
		{"2026-06-06 13:00", "2026-06-08 09:00"},
		{"2026-12-24 18:30", "2026-12-26 10:00"},
		{"2026-12-31 23:59", "2027-01-02 10:00"},
	}
	for _, tt := range tests {
		checkUTC(t, "NextOpen("+tt.t+")", c.NextOpen(local(t, paris, tt.t)), local(t, paris, tt.want))
	}
	// Add with d <= 0 is t, open or not.
	for _, s := range []string{"2026-06-01 10:00", "2026-06-07 10:00"} {
		at := local(t, paris, s)
		checkUTC(t, "Add("+s+", 0)", c.Add(at, 0), at)
		checkUTC(t, "Add("+s+", -1h)", c.Add(at, -time.Hour), at)
	}
}

func TestDST(t *testing.T) {
	always := map[string]string{"mon-sun": "00:00-24:00"}
	weekdays := map[string]string{"mon-fri": "09:00-18:00"}
	tests := []struct {
		name  string
		zone  string
		hours map[string]string
		// Open over [from, to) must be open; Add(from, add) must be due.
		from, to string
		open     time.Duration
		add      time.Duration
		due      string // local time in zone
	}{
		{"Paris spring forward", "Europe/Paris", always, "2027-03-28 00:00", "2027-03-29 00:00", 23 * time.Hour, 24 * time.Hour, "2027-03-29 01:00"},
		{"Paris fall back", "Europe/Paris", always, "2026-10-25 00:00", "2026-10-26 00:00", 25 * time.Hour, 24 * time.Hour, "2026-10-25 23:00"},
		{"Paris spring forward, from 01:00", "Europe/Paris", always, "2027-03-28 01:00", "2027-03-28 04:00", 2 * time.Hour, 2 * time.Hour, "2027-03-28 04:00"},
		{"Paris daytime hours on the change day", "Europe/Paris", map[string]string{"sun": "09:00-18:00"}, "2027-03-28 00:00", "2027-03-29 00:00", 9 * time.Hour, 4 * time.Hour, "2027-03-28 13:00"},
		{"Paris Monday after spring forward", "Europe/Paris", weekdays, "2027-03-29 00:00", "2027-03-30 00:00", 9 * time.Hour, 4 * time.Hour, "2027-03-29 13:00"},
		{"Paris Friday over spring forward", "Europe/Paris", weekdays, "2027-03-26 16:00", "2027-03-29 11:00", 4 * time.Hour, 4 * time.Hour, "2027-03-29 11:00"},
		{"Paris Friday over fall back", "Europe/Paris", weekdays, "2026-10-23 16:00", "2026-10-26 11:00", 4 * time.Hour, 4 * time.Hour, "2026-10-26 11:00"},
		{"New York spring forward", "America/New_York", always, "2027-03-14 00:00", "2027-03-15 00:00", 23 * time.Hour, 24 * time.Hour, "2027-03-15 01:00"},
		{"New York fall back", "America/New_York", always, "2026-11-01 00:00", "2026-11-02 00:00", 25 * time.Hour, 24 * time.Hour, "2026-11-01 23:00"},
		{"New York Friday over spring forward", "America/New_York", weekdays, "2027-03-12 16:00", "2027-03-15 11:00", 4 * time.Hour, 4 * time.Hour, "2027-03-15 11:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := zone(t, tt.zone)
			c := mustCalendar(t, tt.zone, tt.hours)
			from, to := local(t, loc, tt.from), local(t, loc, tt.to)
			if got := c.Open(from, to); got != tt.open {
				t.Errorf("Open(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.open)
			}
			checkUTC(t, "Add", c.Add(from, tt.add), local(t, loc, tt.due))
		})
	}

	t.Run("24h policy from midnight", func(t *testing.T) {
		p := mustParse(t, "always", Spec{ReplyWithin: "24h", Calendar: &CalendarSpec{Timezone: "Europe/Paris", Hours: always}})
		for _, tt := range []struct{ since, due string }{
			{"2027-03-27T23:00:00Z", "2027-03-28T23:00:00Z"}, // 00:00 CET to 01:00 CEST the next day
			{"2026-10-24T22:00:00Z", "2026-10-25T22:00:00Z"}, // 00:00 CEST to 23:00 CET the same day
		} {
			since, _ := time.Parse(time.RFC3339, tt.since)
			due, _ := time.Parse(time.RFC3339, tt.due)
			checkUTC(t, "Due("+tt.since+")", p.Due(since), due)
		}
	})
}

// TestBrute compares Open with a count, minute by minute, of the minutes
// whose local wall-clock time is open.
func TestBrute(t *testing.T) {
	spec := supportHours().Calendar
	c, err := ParseCalendar(*spec)
	if err != nil {
		t.Fatal(err)
	}
	ny := mustCalendar(t, "America/New_York", map[string]string{"fri-tue": "08:15-17:45"}, "2026-11-26")
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, cal := range []*Calendar{c, ny} {
		for range 60 {
			a := start.Add(time.Duration(rng.IntN(540*24*60)) * time.Minute)
			b := a.Add(time.Duration(rng.IntN(8*24*60)) * time.Minute)
			var want time.Duration
			for m := a; m.Before(b); m = m.Add(time.Minute) {
				if bruteOpen(cal, m) {
					want += time.Minute
				}
			}
			if got := cal.Open(a, b); got != want {
				t.Fatalf("%v: Open(%v, %v) = %v, want %v", cal.loc, a, b, got, want)
			}
		}
	}
}

func bruteOpen(c *Calendar, t time.Time) bool {
	l := t.In(c.loc)
	if c.holiday(dayNumber(l.Date())) {
		return false
	}
	min := l.Hour()*60 + l.Minute()
	for _, s := range c.week[l.Weekday()] {
		if s.start <= min && min < s.end {
			return true
		}
	}
	return false
}

// TestProperties checks, over random instants and durations, that Add and
// Open are exact inverses and that Open is additive, including on a
// calendar whose intervals touch the hours DST changes skip or repeat.
func TestProperties(t *testing.T) {
	cals := map[string]*Calendar{
		"support-hours": mustParse(t, "support-hours", supportHours()).Calendar,
		"always":        mustCalendar(t, "Europe/Paris", map[string]string{"mon-sun": "00:00-24:00"}),
		"night": mustCalendar(t, "Europe/Paris", map[string]string{
			"mon-sun": "00:30-02:15,02:30-03:30,22:00-24:00",
		}, "2027-03-27"),
		"new-york": mustCalendar(t, "America/New_York", map[string]string{"sun": "01:00-03:00", "mon,wed,fri": "09:00-17:00"}),
		"utc":      mustCalendar(t, "UTC", map[string]string{"tue": "23:00-24:00"}),
	}
	rng := rand.New(rand.NewPCG(42, 7))
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	year := int64(366 * 24 * time.Hour)
	// A quarter of the starts fall within four days before a DST change.
	changes := []time.Time{
		time.Date(2026, 3, 25, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 21, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 10, 0, 0, 0, 0, time.UTC),
		time.Date(2027, 3, 24, 0, 0, 0, 0, time.UTC),
	}
	near := int64(5 * 24 * time.Hour)
	for name, c := range cals {
		t.Run(name, func(t *testing.T) {
			for i := range 3000 {
				a := start.Add(time.Duration(rng.Int64N(year)))
				if i%4 == 0 {
					a = changes[rng.IntN(len(changes))].Add(time.Duration(rng.Int64N(near)))
				}
				d := time.Duration(rng.Int64N(int64(100 * time.Hour)))
				due := c.Add(a, d)
				if due.Before(a) {
					t.Fatalf("Add(%v, %v) = %v, before the start", a, d, due)
				}
				if got := c.Open(a, due); got != d {
					t.Fatalf("Open(%v, Add(…, %v) = %v) = %v", a, d, due, got)
				}
				b := a.Add(time.Duration(rng.Int64N(int64(200 * time.Hour))))
				open := c.Open(a, b)
				back := c.Add(a, open)
				if back.After(b) || c.Open(a, back) != open {
					t.Fatalf("Open(%v, %v) = %v but Add(a, that) = %v", a, b, open, back)
				}
				m := a.Add(time.Duration(rng.Int64N(int64(b.Sub(a) + 1))))
				if x, y := c.Open(a, m), c.Open(m, b); x+y != open {
					t.Fatalf("Open(a, m) + Open(m, b) = %v + %v, Open(a, b) = %v (a %v, m %v, b %v)", x, y, open, a, m, b)
				}
				next := c.NextOpen(a)
				if next.Before(a) || c.Open(a, next) != 0 || c.Open(a, next.Add(time.Nanosecond)) != time.Nanosecond {
					t.Fatalf("NextOpen(%v) = %v is not the next open instant", a, next)
				}
			}
		})
	}
}

func TestWalkBound(t *testing.T) {
	// Every Saturday of six years is a holiday: nothing ever opens.
	var holidays []string
	for d := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC); d.Year() < 2032; d = d.AddDate(0, 0, 7) {
		holidays = append(holidays, d.Format(time.DateOnly))
	}
	c := mustCalendar(t, "Europe/Paris", map[string]string{"sat": "10:00-11:00"}, holidays...)
	from := local(t, zone(t, "Europe/Paris"), "2026-06-01 12:00")
	end := time.Date(2026, 6, walkDays, 0, 0, 0, 0, c.loc) // the day before, plus walkDays days
	checkUTC(t, "Add", c.Add(from, time.Hour), end)
	checkUTC(t, "NextOpen", c.NextOpen(from), end)
	if got := c.Open(from, from.AddDate(5, 0, 0)); got != 0 {
		t.Errorf("Open = %v, want 0", got)
	}
}

func TestParse(t *testing.T) {
	p := mustParse(t, "support-hours", supportHours())
	if p.Name != "support-hours" || p.ReplyWithin != 4*time.Hour || p.WarnBefore != 30*time.Minute || p.Calendar == nil {
		t.Fatalf("Parse = %+v", p)
	}
	if got, want := p.Calendar.weekly, 5*8*time.Hour+3*time.Hour; got != want {
		t.Errorf("weekly open time = %v, want %v", got, want)
	}
	// Keys are case-insensitive, ranges may wrap and lists may mix days and ranges.
	for _, hours := range []map[string]string{
		{"MON-Fri": "09:00-18:00"},
		{"fri-mon": "09:00-18:00", "tue-thu": "09:00-18:00"},
		{"mon,wed, fri": "09:00-18:00", "tue,thu": "09:00-12:00, 12:00-18:00"},
		{"sat-sun,mon": "00:00-24:00"},
	} {
		if _, err := ParseCalendar(CalendarSpec{Timezone: "UTC", Hours: hours}); err != nil {
			t.Errorf("%v: %v", hours, err)
		}
	}
	c := mustCalendar(t, "UTC", map[string]string{"fri-mon": "09:00-10:00"})
	for wd, want := range []bool{true, true, false, false, false, true, true} {
		if got := len(c.week[wd]) > 0; got != want {
			t.Errorf("fri-mon: %v open = %v", time.Weekday(wd), got)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cal := func(f func(*CalendarSpec)) Spec {
		s := supportHours()
		f(s.Calendar)
		return s
	}
	hours := func(h map[string]string) Spec { return cal(func(c *CalendarSpec) { c.Hours = h }) }
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"support-hours", Spec{ReplyWithin: "4 hours"}, `sla policy "support-hours": reply_within: "4 hours" is not a duration`},
		{"p", Spec{ReplyWithin: "1d"}, `reply_within: "1d"`},
		{"p", Spec{}, "reply_within: required"},
		{"p", Spec{ReplyWithin: "0s"}, `reply_within: "0s" must be positive`},
		{"p", Spec{ReplyWithin: "-1h"}, `reply_within: "-1h" must be positive`},
		{"p", Spec{ReplyWithin: "4h", WarnBefore: "soon"}, `warn_before: "soon" is not a duration`},
		{"p", Spec{ReplyWithin: "4h", WarnBefore: "-5m"}, `warn_before: "-5m" must not be negative`},
		{"p", Spec{ReplyWithin: "4h", WarnBefore: "4h"}, `warn_before: "4h" must be less than reply_within "4h"`},
		{"p", Spec{ReplyWithin: "4h", WarnBefore: "5h"}, `warn_before: "5h" must be less than reply_within "4h"`},
		{"none", Spec{ReplyWithin: "4h"}, `sla policy "none": name "none" is reserved`},
		{"None", Spec{ReplyWithin: "4h"}, `name "None" is reserved`},
		{"bad name", Spec{ReplyWithin: "4h"}, `sla policy "bad name": name must be`},
		{"", Spec{ReplyWithin: "4h"}, `sla policy "": name must be`},
		{"a.b", Spec{ReplyWithin: "4h"}, `sla policy "a.b": name must be`},
		{strings.Repeat("x", 65), Spec{ReplyWithin: "4h"}, "name must be"},
		{"support-hours", hours(map[string]string{"mon-frx": "09:00-18:00"}), `sla policy "support-hours": calendar.hours: "mon-frx": unknown day "frx"`},
		{"p", hours(map[string]string{"monday": "09:00-18:00"}), `calendar.hours: "monday": unknown day "monday"`},
		{"p", hours(map[string]string{"mon-": "09:00-18:00"}), `calendar.hours: "mon-": empty day`},
		{"p", hours(map[string]string{"mon-fri": "09:00-18:00", "wed": "10:00-11:00"}), `calendar.hours: "wed": day "wed" already given in "mon-fri"`},
		{"p", hours(map[string]string{"mon,mon-fri": "09:00-18:00"}), `calendar.hours: "mon,mon-fri": day "mon" given twice`},
		{"p", hours(map[string]string{"mon-mon": "09:00-18:00"}), `"mon-mon" starts and ends on the same day`},
		{"p", hours(map[string]string{"mon": "18:00-09:00"}), `calendar.hours: "mon": "18:00-09:00": end is not after start`},
		{"p", hours(map[string]string{"mon": "09:00-09:00"}), `"09:00-09:00": end is not after start`},
		{"p", hours(map[string]string{"mon": "09:00-13:00,12:00-18:00"}), `"12:00-18:00" overlaps "09:00-13:00"`},
		{"p", hours(map[string]string{"mon": "13:30-18:00,09:00-12:30"}), `"09:00-12:30" comes before "13:30-18:00"`},
		{"p", hours(map[string]string{"mon": "9:00-18:00"}), `"9:00" is not a time HH:MM`},
		{"p", hours(map[string]string{"mon": "09:00-24:30"}), `"24:30" is not a time between`},
		{"p", hours(map[string]string{"mon": "09:60-10:00"}), `"09:60" is not a time between`},
		{"p", hours(map[string]string{"mon": "24:00-24:00"}), `"24:00-24:00": 24:00 can only end an interval`},
		{"p", hours(map[string]string{"mon": "09:00"}), `calendar.hours: "mon": "09:00": want an interval`},
		{"p", hours(map[string]string{"mon": "09:00-18:00,"}), `"": want an interval`},
		{"p", hours(map[string]string{"mon": ""}), `calendar.hours: "mon": no intervals`},
		{"p", hours(map[string]string{"mon": "closed"}), `"closed": want an interval`},
		{"p", hours(nil), "calendar.hours: calendar has no open hours"},
		{"p", cal(func(c *CalendarSpec) { c.Timezone = "Local" }), `calendar.timezone: "Local" is not allowed`},
		{"p", cal(func(c *CalendarSpec) { c.Timezone = "" }), "calendar.timezone: required"},
		{"p", cal(func(c *CalendarSpec) { c.Timezone = "Mars/Olympus_Mons" }), `calendar.timezone: "Mars/Olympus_Mons" is not a known IANA zone`},
		{"p", cal(func(c *CalendarSpec) { c.Timezone = "../etc/passwd" }), `"../etc/passwd" is not a known IANA zone`},
		{"p", cal(func(c *CalendarSpec) { c.Holidays = []string{"2026-13-01"} }), `calendar.holidays: "2026-13-01" is not a date`},
		{"p", cal(func(c *CalendarSpec) { c.Holidays = []string{"2026-02-30"} }), `calendar.holidays: "2026-02-30" is not a date`},
		{"p", cal(func(c *CalendarSpec) { c.Holidays = []string{"25/12/2026"} }), `calendar.holidays: "25/12/2026" is not a date`},
		{"p", Spec{ReplyWithin: "53h", Calendar: &CalendarSpec{Timezone: "UTC", Hours: map[string]string{"mon": "09:00-10:00"}}},
			`reply_within: "53h" is more than a year of the calendar's open hours (52h0m0s)`},
	}
	for _, tt := range tests {
		p, err := Parse(tt.name, tt.spec)
		if err == nil {
			t.Errorf("Parse(%q, %+v) = %+v, want an error containing %q", tt.name, tt.spec, p, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sla policy ") {
			t.Errorf("Parse(%q) error %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	base := mustParse(t, "support-hours", supportHours())
	same := func(f func(*Spec)) *Policy {
		s := supportHours()
		f(&s)
		return mustParse(t, "support-hours", s)
	}
	tests := []struct {
		name string
		q    *Policy
		want bool
	}{
		{"parsed twice", same(func(*Spec) {}), true},
		{"spelled differently", same(func(s *Spec) {
			s.ReplyWithin, s.WarnBefore = "240m", "1800s"
			s.Calendar.Hours = map[string]string{"Mon,tue-thu": "09:00-11:00,11:00-12:30, 13:30-18:00", "fri": "09:00-12:30,13:30-18:00", "SAT": "10:00-13:00"}
			s.Calendar.Holidays = []string{"2027-01-01", "2026-12-25", "2027-01-01"}
		}), true},
		{"nil", nil, false},
		{"other name", func() *Policy { p := *base; p.Name = "other"; return &p }(), false},
		{"other reply_within", same(func(s *Spec) { s.ReplyWithin = "5h" }), false},
		{"other warn_before", same(func(s *Spec) { s.WarnBefore = "" }), false},
		{"no calendar", same(func(s *Spec) { s.Calendar = nil }), false},
		{"other zone", same(func(s *Spec) { s.Calendar.Timezone = "Europe/Brussels" }), false},
		{"other hours", same(func(s *Spec) { s.Calendar.Hours["sat"] = "10:00-13:30" }), false},
		{"other day", same(func(s *Spec) { delete(s.Calendar.Hours, "sat"); s.Calendar.Hours["sun"] = "10:00-13:00" }), false},
		{"other holidays", same(func(s *Spec) { s.Calendar.Holidays = s.Calendar.Holidays[:1] }), false},
	}
	for _, tt := range tests {
		if got := base.Equal(tt.q); got != tt.want {
			t.Errorf("%s: Equal = %v, want %v", tt.name, got, tt.want)
		}
		if got := tt.q.Equal(base); got != tt.want {
			t.Errorf("%s: reversed Equal = %v, want %v", tt.name, got, tt.want)
		}
	}
	var none *Policy
	if !none.Equal(nil) {
		t.Error("nil.Equal(nil) = false")
	}
}

func BenchmarkDue(b *testing.B) {
	p := mustParse(b, "support-hours", supportHours())
	// Starts spread over a week, open and closed, at odd minutes.
	starts := make([]time.Time, 64)
	for i := range starts {
		starts[i] = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 157 * time.Minute)
	}
	b.ReportAllocs()
	var i int
	for b.Loop() {
		p.Due(starts[i%len(starts)])
		i++
	}
}
