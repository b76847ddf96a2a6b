// Package providers lists every provider threadsync has a client for, each
// registered once by its package (its Provider variable). The accounts
// file, `threadsync check` and the engine's factories read All, which is
// generated from the one list of providers, simulated.All (see all.go):
// production links the clients without their simulators.
package providers

import (
	"strings"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// Names are the providers' names, in the order of All.
func Names() []string {
	out := make([]string, len(All))
	for i, r := range All {
		out[i] = r.Name
	}
	return out
}

// Lookup returns the registration of the provider name.
func Lookup(name string) (api.Registration, bool) {
	for _, r := range All {
		if r.Name == name {
			return r, true
		}
	}
	return api.Registration{}, false
}

// Factories maps every provider's name to its factory, which validates an
// account's options before it builds the client (pollers.Config.Providers).
func Factories() map[string]pollers.Factory {
	out := make(map[string]pollers.Factory, len(All))
	for _, r := range All {
		out[r.Name] = r.New
	}
	return out
}

// OptionsCell is the `| options |` row's cell of the provider's table in the
// README: every option of the provider, in order, with what it does, what
// a value must be and its default.
func OptionsCell(r api.Registration) string {
	parts := make([]string, 0, len(r.Options))
	for _, s := range r.Options.Specs() {
		var b strings.Builder
		b.WriteString("`" + s.Name + "` (")
		if s.Required {
			b.WriteString("required; ")
		}
		b.WriteString(s.Doc)
		if s.Want != "" {
			b.WriteString("; " + s.Want)
		}
		if s.Default != "" && !s.Required {
			b.WriteString(", default `" + s.Default + "`")
		}
		b.WriteString(")")
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ", ")
}
