package providers_test

import (
	"errors"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
	"github.com/threadsync/threadsync/pollers/providers"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's provider option rows from the registry")

const readmePath = "../../README.md"

// required gives each provider's required options a value, so that a
// client can be built with everything else at its default.
var required = map[string]map[string]string{
	"selfcommunity": {"user_id": "7"},
	"partizap":      {"user_id": "5"},
}

func TestRegistrations(t *testing.T) {
	t.Parallel()
	if got := providers.Names(); !slices.Equal(got, []string{"olx", "selfcommunity", "partizap", "hubspot", "mirakl"}) {
		t.Fatalf("names %v", got)
	}
	factories := providers.Factories()
	for _, r := range providers.All {
		if r.Name == "" || r.Title == "" || r.Build == nil || factories[r.Name] == nil {
			t.Errorf("%s: incomplete registration %+v", r.Name, r)
		}
		if got, ok := providers.Lookup(r.Name); !ok || got.Name != r.Name {
			t.Errorf("Lookup(%q) = %v, %v", r.Name, got.Name, ok)
		}
		names := append(r.Options.Names(), api.EngineOptions.Names()...)
		for i, n := range names {
			if slices.Contains(names[:i], n) {
				t.Errorf("%s: option %s declared twice", r.Name, n)
			}
		}
		// The registration's features are the client's with the defaults.
		a := pollers.Account{Provider: r.Name, ID: "a", BaseURL: "https://api.example.com", Token: "token", Options: required[r.Name]}
		p, err := factories[r.Name](a, nil)
		if err != nil {
			t.Errorf("%s with default options: %v", r.Name, err)
			continue
		}
		if p.Features() != r.Features {
			t.Errorf("%s: client features %+v, registered %+v", r.Name, p.Features(), r.Features)
		}
		// The factory validates options before it builds anything.
		a.Options = map[string]string{"no_such_option": "1"}
		var oe *api.OptionError
		if _, err := factories[r.Name](a, nil); !errors.As(err, &oe) || !errors.Is(err, api.ErrUnknownOption) {
			t.Errorf("%s: unknown option: %v", r.Name, err)
		}
	}
	if _, ok := providers.Lookup("gmail"); ok {
		t.Error("Lookup found gmail")
	}
}

// Every option says what it does and what a value must be.
func TestOptionsAreDocumented(t *testing.T) {
	t.Parallel()
	for _, r := range providers.All {
		for _, s := range append(r.Options.Specs(), api.EngineOptions.Specs()...) {
			// Errors put several problems on one line, apart by "; ".
			if s.Doc == "" || strings.HasSuffix(s.Doc, ".") || strings.ContainsAny(s.Doc+s.Want, "|\n") || strings.Contains(s.Want, ";") {
				t.Errorf("%s: option %s: doc %q", r.Name, s.Name, s.Doc)
			}
			if s.Want == "" && s.Name != "entity_type" {
				t.Errorf("%s: option %s says nothing of its values", r.Name, s.Name)
			}
		}
	}
}

// TestREADMEOptionRows: the `| options |` row of each provider's table in
// the README is what the registry says. go test -run TestREADMEOptionRows
// -update-readme rewrites those rows and nothing else.
func TestREADMEOptionRows(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	changed := false
	for _, r := range providers.All {
		want := "| options | " + providers.OptionsCell(r) + " |"
		i := optionsRow(lines, r.Title)
		if i < 0 {
			t.Errorf("README: no `| options |` row under #### %s", r.Title)
			continue
		}
		if lines[i] == want {
			continue
		}
		if *updateREADME {
			lines[i], changed = want, true
			continue
		}
		t.Errorf("README: the options row of %s differs from the registry (go test ./pollers/providers -run TestREADMEOptionRows -update-readme)\n got: %s\nwant: %s", r.Title, lines[i], want)
	}
	if changed {
		if err := os.WriteFile(readmePath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// optionsRow finds the `| options |` row of the table under the heading
// "#### title", or -1.
func optionsRow(lines []string, title string) int {
	in := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "#"):
			in = l == "#### "+title
		case in && strings.HasPrefix(l, "| options |"):
			return i
		}
	}
	return -1
}
