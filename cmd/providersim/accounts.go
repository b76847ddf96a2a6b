package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

// accountsTemplate renders threadsync's accounts file. Secrets and option
// values are double-quoted: a key like 1e10 or an id like 2001 must stay a
// string for the YAML reader.
var accountsTemplate = template.Must(template.New("accounts").Funcs(template.FuncMap{"quote": yamlQuote}).Parse(
	`# Simulated accounts served by providersim. The tokens are simulator keys,
# valid for this providersim run only.
accounts:
{{- range .}}
  - provider: {{.Provider}}
    id: {{.ID}}
    base_url: {{.BaseURL}}
    token: {{quote .Token}}
    poll_interval: 2s
    initial_sync: full
{{- if .Options}}
    options:
{{- range .Options}}
      {{.Key}}: {{quote .Value}}
{{- end}}
{{- end}}
{{- end}}
`))

type accountView struct {
	Provider, ID, BaseURL, Token string
	Options                      []option
}

type option struct{ Key, Value string }

// renderAccounts writes the accounts file for the accounts, options in key
// order so the file is stable.
func renderAccounts(w io.Writer, accounts []account) error {
	views := make([]accountView, len(accounts))
	for i, a := range accounts {
		v := accountView{Provider: a.provider, ID: a.id, BaseURL: a.baseURL, Token: a.token}
		for k, val := range a.options {
			v.Options = append(v.Options, option{k, val})
		}
		slices.SortFunc(v.Options, func(x, y option) int { return strings.Compare(x.Key, y.Key) })
		views[i] = v
	}
	return accountsTemplate.Execute(w, views)
}

// writeAccounts replaces path atomically with the accounts file, readable by
// the owner only since it holds keys.
func writeAccounts(path string, accounts []account) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".accounts-*.yaml")
	if err != nil {
		return fmt.Errorf("accounts file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := renderAccounts(tmp, accounts); err != nil {
		tmp.Close()
		return fmt.Errorf("accounts file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("accounts file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("accounts file: %w", err)
	}
	return nil
}

// yamlQuote returns s as a YAML double-quoted scalar; JSON string syntax is a
// subset of it.
func yamlQuote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
