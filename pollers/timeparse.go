package pollers

import (
	"fmt"
	"time"
)

// zoned are ISO 8601 forms that RFC 3339 parsing refuses: offsets without
// a colon (PHP's DATE_ISO8601) and a space instead of the T.
var zoned = []string{"2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z0700"}

// zoneless are layouts of providers that send local times without a zone.
var zoneless = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

// ParseTime reads a provider timestamp leniently: RFC 3339 with or without
// fractional seconds first, then zone-less layouts read in loc (UTC when
// nil). The result is in UTC.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range zoned {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range zoneless {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: time %q is neither RFC 3339 nor YYYY-MM-DD hh:mm:ss", ErrMalformed, s)
}
