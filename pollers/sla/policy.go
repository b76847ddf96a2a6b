package sla

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Spec is a policy as written in the accounts file.
type Spec struct {
	ReplyWithin string        `yaml:"reply_within" json:"reply_within"`
	WarnBefore  string        `yaml:"warn_before,omitempty" json:"warn_before,omitempty"`
	Calendar    *CalendarSpec `yaml:"calendar,omitempty" json:"calendar,omitempty"`
}

// Policy is a parsed, validated policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	Name        string
	ReplyWithin time.Duration
	WarnBefore  time.Duration // 0: no warning
	Calendar    *Calendar     // nil: the clock runs 24/7
}

// Names go into event payloads, subjects and alert labels, hence the
// token alphabet.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// noPolicy is what an account names to opt out, so no policy may take it.
const noPolicy = "none"

// yearWeeks caps reply_within at this many weeks of a calendar's open time,
// well inside the calendar's walk bound (see Calendar), so that Due is exact
// unless holidays close years on end.
const yearWeeks = 52

// Parse validates spec and returns the policy named name. Errors name the
// field and what is wrong with it, after `sla policy "<name>": `.
func Parse(name string, spec Spec) (*Policy, error) {
	p, err := parse(name, spec)
	if err != nil {
		return nil, fmt.Errorf("sla policy %q: %w", name, err)
	}
	return p, nil
}

func parse(name string, spec Spec) (*Policy, error) {
	if !nameRE.MatchString(name) {
		return nil, errors.New("name must be 1 to 64 letters, digits, '_' or '-'")
	}
	// Case-insensitive so that "None" cannot be mistaken for the opt-out.
	if strings.EqualFold(name, noPolicy) {
		return nil, fmt.Errorf("name %q is reserved: it means no policy", name)
	}
	p := &Policy{Name: name}
	if strings.TrimSpace(spec.ReplyWithin) == "" {
		return nil, errors.New(`reply_within: required, a duration such as "4h" or "90m"`)
	}
	var err error
	if p.ReplyWithin, err = parseDuration("reply_within", spec.ReplyWithin); err != nil {
		return nil, err
	}
	if p.ReplyWithin <= 0 {
		return nil, fmt.Errorf("reply_within: %q must be positive", spec.ReplyWithin)
	}
	if strings.TrimSpace(spec.WarnBefore) != "" {
		if p.WarnBefore, err = parseDuration("warn_before", spec.WarnBefore); err != nil {
			return nil, err
		}
		if p.WarnBefore < 0 {
			return nil, fmt.Errorf("warn_before: %q must not be negative", spec.WarnBefore)
		}
		if p.WarnBefore >= p.ReplyWithin {
			return nil, fmt.Errorf("warn_before: %q must be less than reply_within %q", spec.WarnBefore, spec.ReplyWithin)
		}
	}
	if spec.Calendar != nil {
		if p.Calendar, err = ParseCalendar(*spec.Calendar); err != nil {
			return nil, err
		}
		if limit := yearWeeks * p.Calendar.weekly; p.ReplyWithin > limit {
			return nil, fmt.Errorf("reply_within: %q is more than a year of the calendar's open hours (%v)", spec.ReplyWithin, limit)
		}
	}
	return p, nil
}

func parseDuration(field, s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf(`%s: %q is not a duration such as "4h" or "90m" (units h, m, s; no days)`, field, s)
	}
	return d, nil
}

// Due is when an episode that began at since must be answered: since plus
// ReplyWithin counted in open hours. An episode that starts while closed
// starts counting at the next opening; holidays are closed. When the time
// runs out exactly at a closing, Due is that closing, not the next opening.
func (p *Policy) Due(since time.Time) time.Time {
	if p.Calendar == nil {
		return since.Add(p.ReplyWithin).UTC()
	}
	return p.Calendar.Add(since, p.ReplyWithin)
}

// Warn is when the warning is due: the first moment at which only
// WarnBefore of open time remains before Due (so it may fall at a closing,
// for instance at the start of a lunch break). It is the zero time when
// WarnBefore is 0, and never before since's counting start.
func (p *Policy) Warn(since time.Time) time.Time {
	if p.WarnBefore <= 0 {
		return time.Time{}
	}
	if p.Calendar == nil {
		return since.Add(p.ReplyWithin - p.WarnBefore).UTC()
	}
	return p.Calendar.Add(since, p.ReplyWithin-p.WarnBefore)
}

// Business is the open time between a and b: 0 when b is not after a, b-a
// when the policy has no calendar.
func (p *Policy) Business(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if p.Calendar == nil {
		return b.Sub(a)
	}
	return p.Calendar.Open(a, b)
}

// Equal reports whether p and q are the same policy, name included, so
// that a reloaded accounts file can tell which accounts changed. Two nil
// policies are equal.
func (p *Policy) Equal(q *Policy) bool {
	if p == nil || q == nil {
		return p == q
	}
	return p.Name == q.Name && p.ReplyWithin == q.ReplyWithin && p.WarnBefore == q.WarnBefore &&
		p.Calendar.equal(q.Calendar)
}
