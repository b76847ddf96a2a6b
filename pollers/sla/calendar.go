package sla

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"
)

// CalendarSpec is a calendar as written in the accounts file. Hours maps
// days ("mon", "mon-fri", "fri-mon", "mon,wed,fri") to intervals
// ("09:00-12:30,13:30-18:00"); days absent are closed. Holidays are
// YYYY-MM-DD dates in the calendar's zone, closed all day.
type CalendarSpec struct {
	Timezone string            `yaml:"timezone" json:"timezone"`
	Hours    map[string]string `yaml:"hours" json:"hours"`
	Holidays []string          `yaml:"holidays,omitempty" json:"holidays,omitempty"`
}

// Calendar is a week of open hours in a time zone, minus holidays. It is
// immutable and safe for concurrent use.
//
// Intervals are local wall-clock times: each day's instants are built with
// time.Date in the zone, so a day with a DST change has its real length
// (00:00-24:00 lasts 23 or 25 hours) while 09:00-18:00 stays 9 hours when
// the change is at night. Wall times that a change skips or repeats are
// resolved as time.Date resolves them, and open time is never counted twice.
//
// The methods walk day by day from their starting instant, at most walkDays
// days (four years). Only a holiday list closing nearly all of them can
// exhaust that: Add and NextOpen then return the end of the walk, and Open
// counts nothing beyond it.
type Calendar struct {
	loc  *time.Location
	week [7][]span // by time.Weekday; ordered, disjoint, non-adjacent
	// holidays are day numbers (see dayNumber), sorted, distinct.
	holidays []int64
	weekly   time.Duration // nominal open time of a week
}

// span is an open interval of a day in minutes after its local midnight;
// end may be 1440 (24:00, the next day's midnight).
type span struct{ start, end int }

// walkDays bounds every walk: four years of days.
const walkDays = 4 * 366

// ParseCalendar validates spec. Errors name the field and the value at fault.
func ParseCalendar(spec CalendarSpec) (*Calendar, error) {
	c := &Calendar{}
	var err error
	if c.loc, err = loadZone(spec.Timezone); err != nil {
		return nil, err
	}
	if c.week, err = parseHours(spec.Hours); err != nil {
		return nil, fmt.Errorf("calendar.hours: %w", err)
	}
	for _, day := range c.week {
		for _, s := range day {
			c.weekly += time.Duration(s.end-s.start) * time.Minute
		}
	}
	if c.weekly == 0 {
		return nil, errors.New("calendar.hours: calendar has no open hours")
	}
	for _, h := range spec.Holidays {
		d, err := time.Parse(time.DateOnly, h)
		if err != nil {
			return nil, fmt.Errorf("calendar.holidays: %q is not a date YYYY-MM-DD", h)
		}
		c.holidays = append(c.holidays, dayNumber(d.Date()))
	}
	slices.Sort(c.holidays)
	c.holidays = slices.Compact(c.holidays)
	return c, nil
}

func loadZone(name string) (*time.Location, error) {
	switch name {
	case "":
		return nil, errors.New(`calendar.timezone: required, an IANA zone such as "Europe/Paris" or "UTC"`)
	case "Local":
		// The host's zone would silently move every deadline when the
		// service moves.
		return nil, errors.New(`calendar.timezone: "Local" is not allowed; name the zone, such as "Europe/Paris" or "UTC"`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("calendar.timezone: %q is not a known IANA zone", name)
	}
	return loc, nil
}

// Add returns the instant at which d of open time has passed since t. When
// d runs out exactly at a closing, that closing is the answer. If d <= 0 it
// returns t, open or not.
func (c *Calendar) Add(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t.UTC()
	}
	for s, e := range c.intervals(t) {
		if n := e.Sub(s); d > n {
			d -= n
			continue
		}
		return s.Add(d).UTC()
	}
	return c.walkEnd(t)
}

// Open returns the open time in [a, b); 0 when b is not after a.
func (c *Calendar) Open(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	var open time.Duration
	for s, e := range c.intervals(a) {
		if !s.Before(b) {
			break
		}
		if e.After(b) {
			e = b
		}
		open += e.Sub(s)
	}
	return open
}

// NextOpen returns t when t is inside open hours, else the start of the
// next open interval. Intervals are half-open: at a closing instant the
// calendar is closed.
func (c *Calendar) NextOpen(t time.Time) time.Time {
	for s := range c.intervals(t) {
		return s.UTC()
	}
	return c.walkEnd(t)
}

// intervals yields, in order, the open intervals [s, e) that end after
// from, the first one cut to start at from. It starts a day early so that
// an interval reaching past a repeated midnight is not missed, and no
// interval starts before the previous one ended, so time that a DST change
// makes ambiguous is counted once.
func (c *Calendar) intervals(from time.Time) iter.Seq2[time.Time, time.Time] {
	return func(yield func(s, e time.Time) bool) {
		local := from.In(c.loc)
		y, m, d := local.Date()
		d--
		n := dayNumber(y, m, d)
		wd := (local.Weekday() + 6) % 7
		last := from
		for i := range walkDays {
			day := c.week[wd]
			if len(day) > 0 && !c.holiday(n) &&
				// The day before rarely reaches from: check its last closing first.
				(i > 0 || c.at(y, m, d, day[len(day)-1].end).After(last)) {
				for _, sp := range day {
					e := c.at(y, m, d+i, sp.end)
					if !e.After(last) {
						continue
					}
					s := c.at(y, m, d+i, sp.start)
					if s.Before(last) {
						s = last
					}
					if !e.After(s) {
						continue
					}
					if !yield(s, e) {
						return
					}
					last = e
				}
			}
			n++
			wd = (wd + 1) % 7
		}
	}
}

// at is the instant minute minutes after local midnight of the day y-m-d
// (normalised like time.Date, so d may overflow the month and minute may be
// 1440).
func (c *Calendar) at(y int, m time.Month, d, minute int) time.Time {
	return time.Date(y, m, d, 0, minute, 0, 0, c.loc)
}

// walkEnd is the local midnight at which the walk from t gives up.
func (c *Calendar) walkEnd(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return c.at(y, m, d-1+walkDays, 0).UTC()
}

func (c *Calendar) holiday(n int64) bool {
	_, found := slices.BinarySearch(c.holidays, n)
	return found
}

func (c *Calendar) equal(o *Calendar) bool {
	if c == nil || o == nil {
		return c == o
	}
	if c.loc.String() != o.loc.String() || !slices.Equal(c.holidays, o.holidays) {
		return false
	}
	for wd := range c.week {
		if !slices.Equal(c.week[wd], o.week[wd]) {
			return false
		}
	}
	return true
}

// dayNumber numbers civil dates, whatever the zone: days since 1970-01-01.
// The date is normalised like time.Date's.
func dayNumber(y int, m time.Month, d int) int64 {
	u := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
	n := u / 86400
	if u%86400 < 0 {
		n--
	}
	return n
}
