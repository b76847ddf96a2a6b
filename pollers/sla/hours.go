package sla

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// dayNames are the days as written in hours keys, by time.Weekday.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// parseHours reads the hours map into a week of spans by time.Weekday.
// Keys are read in sorted order so that errors are the same on every run.
func parseHours(hours map[string]string) ([7][]span, error) {
	var week [7][]span
	var from [7]string // the key that named each day
	keys := make([]string, 0, len(hours))
	for k := range hours {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		days, err := parseDays(k)
		if err != nil {
			return week, fmt.Errorf("%q: %w", k, err)
		}
		spans, err := parseSpans(hours[k])
		if err != nil {
			return week, fmt.Errorf("%q: %w", k, err)
		}
		for _, wd := range days {
			if from[wd] != "" {
				return week, fmt.Errorf("%q: day %q already given in %q", k, dayNames[wd], from[wd])
			}
			from[wd] = k
			week[wd] = spans
		}
	}
	return week, nil
}

// parseDays reads a key: a day, a range of days (which may wrap, as in
// "fri-mon"), or a comma list of either, case-insensitive.
func parseDays(key string) ([]time.Weekday, error) {
	var days []time.Weekday
	for item := range strings.SplitSeq(key, ",") {
		item = strings.TrimSpace(item)
		first, last, isRange := strings.Cut(item, "-")
		a, err := parseDay(first)
		if err != nil {
			return nil, err
		}
		if !isRange {
			days = append(days, a)
			continue
		}
		b, err := parseDay(last)
		if err != nil {
			return nil, err
		}
		if a == b {
			return nil, fmt.Errorf("range %q starts and ends on the same day", item)
		}
		for wd := a; ; wd = (wd + 1) % 7 {
			days = append(days, wd)
			if wd == b {
				break
			}
		}
	}
	for i, wd := range days {
		if slices.Contains(days[:i], wd) {
			return nil, fmt.Errorf("day %q given twice", dayNames[wd])
		}
	}
	return days, nil
}

func parseDay(s string) (time.Weekday, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty day; want mon, tue, wed, thu, fri, sat or sun")
	}
	if i := slices.Index(dayNames[:], strings.ToLower(s)); i >= 0 {
		return time.Weekday(i), nil
	}
	return 0, fmt.Errorf("unknown day %q; want mon, tue, wed, thu, fri, sat or sun", s)
}

// parseSpans reads "HH:MM-HH:MM,HH:MM-HH:MM": intervals in order, not
// overlapping; 24:00 may end the last one. Intervals that touch are merged,
// so that two spellings of the same hours compare equal.
func parseSpans(v string) ([]span, error) {
	if strings.TrimSpace(v) == "" {
		return nil, errors.New(`no intervals; want "HH:MM-HH:MM[,HH:MM-HH:MM...]" (leave the day out to close it)`)
	}
	var spans []span
	prev := ""
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		a, b, ok := strings.Cut(item, "-")
		if !ok {
			return nil, fmt.Errorf("%q: want an interval HH:MM-HH:MM", item)
		}
		start, err := parseClock(strings.TrimSpace(a), false)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		end, err := parseClock(strings.TrimSpace(b), true)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		if end <= start {
			return nil, fmt.Errorf("%q: end is not after start", item)
		}
		if n := len(spans); n > 0 {
			switch last := &spans[n-1]; {
			case start < last.start:
				return nil, fmt.Errorf("%q comes before %q; list intervals in order", item, prev)
			case start < last.end:
				return nil, fmt.Errorf("%q overlaps %q", item, prev)
			case start == last.end:
				last.end = end
				prev = item
				continue
			}
		}
		spans = append(spans, span{start, end})
		prev = item
	}
	return spans, nil
}

// parseClock reads HH:MM as minutes after midnight; 24:00 only as an end.
func parseClock(s string, end bool) (int, error) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, fmt.Errorf("%q is not a time HH:MM", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	switch {
	case h == 24 && m == 0 && end:
		return 24 * 60, nil
	case h == 24 && m == 0:
		return 0, errors.New("24:00 can only end an interval")
	case h > 23 || m > 59:
		return 0, fmt.Errorf("%q is not a time between 00:00 and 24:00", s)
	}
	return h*60 + m, nil
}

func digits(s string) bool {
	for _, r := range []byte(s) {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
