package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// renderAccounts writes threadsync's accounts file, options in key order;
// values are quoted, so that a key like 1e10 stays a string in YAML.
func renderAccounts(w io.Writer, accounts []account) error {
	var b strings.Builder
	b.WriteString("# Simulated accounts served by providersim. The tokens are simulator keys,\n# valid for this providersim run only.\naccounts:\n")
	for _, a := range accounts {
		fmt.Fprintf(&b, "  - provider: %s\n    id: %s\n    base_url: %s\n    token: %s\n    poll_interval: 2s\n    initial_sync: full\n",
			a.provider, a.id, a.baseURL, yamlQuote(a.token))
		if len(a.options) > 0 {
			b.WriteString("    options:\n")
		}
		for _, k := range slices.Sorted(maps.Keys(a.options)) {
			fmt.Fprintf(&b, "      %s: %s\n", k, yamlQuote(a.options[k]))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeAccounts replaces path atomically, readable by the owner only since it holds keys.
func writeAccounts(path string, accounts []account) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".accounts-*.yaml")
	if err != nil {
		return fmt.Errorf("accounts file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	// The file closes either way; a failed write is the error to report.
	if err := cmp.Or(renderAccounts(tmp, accounts), tmp.Close()); err != nil {
		return fmt.Errorf("accounts file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("accounts file: %w", err)
	}
	return nil
}

// yamlQuote is s as a YAML double-quoted scalar, of which JSON strings are a subset.
func yamlQuote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
