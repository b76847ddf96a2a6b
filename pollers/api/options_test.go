package api_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/api"
)

var (
	pageSize = api.IntOption("page_size", 100, 1, 100, "threads per page")
	archived = api.BoolOption("include_archived", false, "also read archived threads")
	ending   = api.ChoiceOption("end_of_list", "short", []string{"short", "empty"}, "what ends a list")
	zone     = api.ZoneOption("timezone", "UTC", "the zone of zone-less times")
	filter   = api.StringOption("entity_type", "only threads of that type")
	owner    = &api.Option[string]{
		Name: "user_id", Required: true, Doc: "the owner's id", Want: "a positive integer",
		Parse: func(v string) (string, error) {
			if v == "" || strings.Trim(v, "0123456789") != "" {
				return "", api.ErrInvalidOption
			}
			return v, nil
		},
	}
	options = api.Options{owner, pageSize, archived, ending, zone, filter}
)

func TestDefaultsAndValues(t *testing.T) {
	t.Parallel()
	v, err := options.Parse(map[string]string{"user_id": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if owner.Get(v) != "7" || pageSize.Get(v) != 100 || archived.Get(v) || ending.Get(v) != "short" ||
		zone.Get(v) != time.UTC || filter.Get(v) != "" {
		t.Fatalf("defaults: %v %v %v %v %v %q", owner.Get(v), pageSize.Get(v), archived.Get(v), ending.Get(v), zone.Get(v), filter.Get(v))
	}
	v, err = options.Parse(map[string]string{
		"user_id": "7", "page_size": "1", "include_archived": "true", "end_of_list": "empty",
		"timezone": "Europe/Warsaw", "entity_type": "MMP_ORDER",
		"overlap": "2m", "requests_per_second": "0.5", "quota": "portal-42",
	})
	if err != nil {
		t.Fatal(err)
	}
	if pageSize.Get(v) != 1 || !archived.Get(v) || ending.Get(v) != "empty" || zone.Get(v).String() != "Europe/Warsaw" || filter.Get(v) != "MMP_ORDER" {
		t.Fatalf("values: %v %v %v %v %q", pageSize.Get(v), archived.Get(v), ending.Get(v), zone.Get(v), filter.Get(v))
	}
}

// Every problem is reported at once, in one style: the option, the value
// and what is wanted.
func TestErrorsNameTheOptionAndWhatIsWanted(t *testing.T) {
	t.Parallel()
	_, err := options.Parse(map[string]string{
		"page_size": "0", "include_archived": "maybe", "end_of_list": "never", "timezone": "Local",
		"overlap": "-1s", "requests_per_second": "0", "quota": "a b", "shop_id": "1", "zz": "",
	})
	want := []string{
		"option user_id is required (the owner's id): want a positive integer",
		`option page_size "0": want an integer from 1 to 100`,
		`option include_archived "maybe": want true or false`,
		`option end_of_list "never": want "short" or "empty"`,
		`option timezone "Local" (Local is the worker's host zone, not the provider's): want an IANA zone name, not Local`,
		`option overlap "-1s": want a non-negative duration such as 1m`,
		`option requests_per_second "0": want a positive number`,
		`option quota "a b": want a name of 1 to 64 letters, digits, _ or -`,
		`unknown option "shop_id" (known: user_id, page_size, include_archived, end_of_list, timezone, entity_type, overlap, requests_per_second, quota)`,
		`unknown option "zz"`,
	}
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "; ")
	if len(lines) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d: %q, want %q", i, lines[i], w)
		}
	}
	for _, kind := range []error{api.ErrMissingOption, api.ErrInvalidOption, api.ErrUnknownOption} {
		if !errors.Is(err, kind) {
			t.Errorf("error does not match %v", kind)
		}
	}
	var oe *api.OptionError
	if !errors.As(err, &oe) || oe.Name != "user_id" || oe.Kind != api.ErrMissingOption {
		t.Errorf("first OptionError %+v", oe)
	}
}

// The one time zone rule: an IANA name; "" and Local (any case) are
// refused.
func TestLoadZone(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"UTC", "Europe/Moscow", "America/New_York", "Asia/Almaty"} {
		if loc, err := api.LoadZone(name); err != nil || loc.String() != name {
			t.Errorf("%s: %v, %v", name, loc, err)
		}
		// Accounts naming one zone share its Location, not a copy each.
		if a, _ := api.LoadZone(name); a != first(api.LoadZone(name)) {
			t.Errorf("%s loaded twice", name)
		}
	}
	for _, name := range []string{"", "Local", "local", "LOCAL", "Mars/Olympus", "Europe/Atlantis"} {
		if _, err := api.LoadZone(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}

func first[T any](v T, _ error) T { return v }

func TestSpecs(t *testing.T) {
	t.Parallel()
	specs := options.Specs()
	if len(specs) != len(options) || specs[0] != (api.Spec{Name: "user_id", Required: true, Doc: "the owner's id", Want: "a positive integer"}) ||
		specs[1] != (api.Spec{Name: "page_size", Default: "100", Doc: "threads per page", Want: "an integer from 1 to 100"}) {
		t.Fatalf("specs %+v", specs)
	}
}

// A default that its own parser refuses is a mistake of the declaration,
// found by the first test that parses.
func TestBadDefaultPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	_, _ = api.Options{api.ZoneOption("timezone", "Local", "")}.Parse(nil)
}
