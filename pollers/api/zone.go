package api

import (
	"errors"
	"strings"
	"sync"
	"time"
	// Accounts name the zones of their providers; every host, test
	// binaries and images without a zone database included, must read
	// them alike.
	_ "time/tzdata"
)

// errLocal says why Local is refused.
var errLocal = errors.New("Local is the worker's host zone, not the provider's")

// LoadZone is the one time zone rule of provider options: an IANA zone
// name. "" and Local are refused, whatever their case: the zone is the
// provider's (where its zone-less times were written, where its daily
// allowance resets), and the host a worker happens to run on says nothing
// about it.
func LoadZone(name string) (*time.Location, error) {
	if strings.EqualFold(name, "local") {
		return nil, errLocal
	}
	if name == "" {
		return nil, ErrInvalidOption
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errors.New("no such zone")
	}
	actual, _ := zones.LoadOrStore(name, loc)
	return actual.(*time.Location), nil
}

// zones holds each zone loaded once: a Location carries the zone's whole
// table of transitions (kilobytes), and ten thousand accounts name a
// handful of zones.
var zones sync.Map

// ZoneOption is a time zone read with LoadZone, def by default.
func ZoneOption(name, def, doc string) *Option[*time.Location] {
	return &Option[*time.Location]{
		Name: name, Default: def, Doc: doc,
		Want:  "an IANA zone name, not Local",
		Parse: LoadZone,
	}
}
