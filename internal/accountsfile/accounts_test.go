package accountsfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
)

// writeAccounts writes an accounts file, and any extra files by name, into a
// fresh directory and returns the accounts file's path.
func writeAccounts(t *testing.T, yaml string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "accounts.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func envLookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func TestLoadAccounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	abs := filepath.Join(dir, "hubspot.key")
	if err := os.WriteFile(abs, []byte("hs-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeAccounts(t, `
accounts:
  - provider: mirakl
    id: shop-2001
    base_url: ${MIRAKL_URL}
    token: ${MIRAKL_SHOP_2001_KEY}
    poll_interval: 15s
    initial_sync: full
    options:
      shop_id: 2001          # unquoted number
  - provider: olx
    id: olx_1
    base_url: https://www.olx.pl/api/partner
    token: " literal-olx-token "
    initial_sync: from_now
    options:
      timezone: Europe/Warsaw
      verbose: true          # unquoted bool
      ratio: 1.50
  - provider: selfcommunity
    id: SC-1
    base_url: http://127.0.0.1:8080
    token_file: sc.token     # relative to the accounts file
    options:
      user_id: "${SC_USER}"
  - provider: partizap
    id: "42"
    base_url: https://partizap.example
    token: ab$cd${PZ}$     # a lone $ stays as it is
    options: {}
  - provider: hubspot
    id: shop-2001            # same id as the Mirakl account: ids are per provider
    base_url: https://api.hubapi.com
    token_file: `+abs+`
    options:
      inbox_ids: 1,2,3
`, map[string]string{"sc.token": "\n  sc-token-from-file \n"})

	env := map[string]string{
		"MIRAKL_URL":           "https://acme.mirakl.net",
		"MIRAKL_SHOP_2001_KEY": "mirakl-key",
		"SC_USER":              "7",
		"PZ":                   "-session-",
	}
	got, err := Load(path, envLookup(env), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []pollers.Account{
		{Provider: "mirakl", ID: "shop-2001", BaseURL: "https://acme.mirakl.net", Token: "mirakl-key",
			PollInterval: 15 * time.Second, InitialSync: pollers.SyncFull, Options: map[string]string{"shop_id": "2001"}},
		{Provider: "olx", ID: "olx_1", BaseURL: "https://www.olx.pl/api/partner", Token: "literal-olx-token",
			PollInterval: 30 * time.Second, InitialSync: pollers.SyncFromNow,
			Options: map[string]string{"timezone": "Europe/Warsaw", "verbose": "true", "ratio": "1.50"}},
		{Provider: "selfcommunity", ID: "SC-1", BaseURL: "http://127.0.0.1:8080", Token: "sc-token-from-file",
			PollInterval: 30 * time.Second, InitialSync: pollers.SyncFull, Options: map[string]string{"user_id": "7"}},
		{Provider: "partizap", ID: "42", BaseURL: "https://partizap.example", Token: "ab$cd-session-$",
			PollInterval: 30 * time.Second, InitialSync: pollers.SyncFull, Options: map[string]string{}},
		{Provider: "hubspot", ID: "shop-2001", BaseURL: "https://api.hubapi.com", Token: "hs-key",
			PollInterval: 30 * time.Second, InitialSync: pollers.SyncFull, Options: map[string]string{"inbox_ids": "1,2,3"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("accounts:\n got %#v\nwant %#v", got, want)
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("account %d: got %+v, want %+v", i+1, got[i], want[i])
			}
		}
	}
}

// Anchors and merge keys let a long file share settings between accounts.
func TestLoadAccountsAnchors(t *testing.T) {
	t.Parallel()
	path := writeAccounts(t, `
mirakl: &mirakl
  provider: mirakl
  base_url: https://acme.mirakl.net
  poll_interval: 1m
accounts:
  - <<: *mirakl
    id: a
    token: ta
  - <<: *mirakl
    id: b
    token: tb
    poll_interval: 5s
`, nil)
	_, err := Load(path, envLookup(nil), time.Second)
	// Only accounts: is allowed at the top level, so anchors must live inside it.
	if err == nil || !strings.Contains(err.Error(), "mirakl: unknown field") {
		t.Fatalf("top-level anchor holder: got %v", err)
	}

	path = writeAccounts(t, `
accounts:
  - &a
    provider: mirakl
    id: a
    base_url: https://acme.mirakl.net
    token: ta
    poll_interval: 1m
  - <<: *a
    id: b
    token: tb
    poll_interval: 5s
`, nil)
	got, err := Load(path, envLookup(nil), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].ID != "b" || got[1].Token != "tb" || got[1].PollInterval != 5*time.Second ||
		got[1].BaseURL != "https://acme.mirakl.net" || got[1].Provider != "mirakl" {
		t.Errorf("got %+v", got)
	}
}

const validAccount = `
  - provider: mirakl
    id: shop-1
    base_url: https://acme.mirakl.net
    token: key
`

func TestLoadAccountsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string
		env   map[string]string
		files map[string]string
		want  []string // each must appear in the error, after "<file>: "
	}{
		{name: "empty file", yaml: "", want: []string{"the file is empty"}},
		{name: "comments only", yaml: "# nothing\n", want: []string{"the file is empty"}},
		{name: "syntax", yaml: "accounts:\n  - provider: [mirakl\n", want: []string{"yaml: line"}},
		{name: "top level list", yaml: "- provider: mirakl\n", want: []string{"the top level must be a mapping"}},
		{name: "no accounts", yaml: "account:\n" + validAccount, want: []string{"account: unknown field (line 1)", "accounts: missing"}},
		{name: "accounts null", yaml: "accounts:\n", want: []string{"accounts: the list is empty"}},
		{name: "accounts empty", yaml: "accounts: []\n", want: []string{"accounts: the list is empty"}},
		{name: "accounts not list", yaml: "accounts: mirakl\n", want: []string{"accounts: must be a list (line 1)"}},
		{name: "duplicate top key", yaml: "accounts: []\naccounts: []\n", want: []string{`line 2: mapping key "accounts" already defined at line 1`}},
		{name: "second document", yaml: "accounts:\n" + validAccount + "---\naccounts: []\n", want: []string{"a second YAML document"}},
		{name: "account not mapping", yaml: "accounts:\n  - mirakl\n" + validAccount, want: []string{"account 1: must be a mapping of provider, id,"}},

		{name: "unknown field", yaml: "accounts:\n" + validAccount + "    tokn: x\n",
			want: []string{"account 1 (mirakl/shop-1): tokn: unknown field (line 7); want provider, id, base_url"}},
		{name: "duplicate field", yaml: "accounts:\n" + validAccount + "    token: other\n",
			want: []string{`account 1 (mirakl/shop-1): line 7: mapping key "token" already defined at line 6`}},
		{name: "bad poll interval", yaml: "accounts:\n" + validAccount + `
  - provider: mirakl
    id: shop-2
    base_url: https://acme.mirakl.net
    token: key
    poll_interval: abc
`, want: []string{`account 2 (mirakl/shop-2): poll_interval: time: invalid duration "abc"`}},
		{name: "poll interval without unit", yaml: "accounts:\n" + validAccount + "    poll_interval: 30\n",
			want: []string{`account 1 (mirakl/shop-1): poll_interval: time: missing unit in duration "30"`}},
		{name: "zero poll interval", yaml: "accounts:\n" + validAccount + "    poll_interval: 0s\n",
			want: []string{"account 1 (mirakl/shop-1): poll_interval: 0s must be positive"}},
		{name: "negative poll interval", yaml: "accounts:\n" + validAccount + "    poll_interval: -1m\n",
			want: []string{"account 1 (mirakl/shop-1): poll_interval: -1m0s must be positive"}},
		{name: "unknown provider", yaml: "accounts:\n  - {provider: gmail, id: a, base_url: https://x, token: k}\n",
			want: []string{`account 1 (gmail/a): provider: "gmail" is not one of olx, selfcommunity, partizap, hubspot, mirakl`}},
		{name: "missing provider", yaml: "accounts:\n  - {id: a, base_url: https://x, token: k}\n",
			want: []string{`account 1 (?/a): provider: missing`}},
		{name: "missing id", yaml: "accounts:\n  - {provider: olx, base_url: https://x, token: k}\n",
			want: []string{`account 1 (olx/?): invalid token: id ""`}},
		{name: "id is a list", yaml: "accounts:\n  - {provider: olx, id: [a], base_url: https://x, token: k}\n",
			want: []string{`account 1 (olx/?): id: must be a single value, not a list (line 2)`}},
		{name: "duplicate id", yaml: "accounts:\n" + validAccount + validAccount,
			want: []string{"account 2 (mirakl/shop-1): id: already used by account 1"}},
		{name: "duplicate id of an invalid account", yaml: "accounts:\n  - {provider: olx, id: a, base_url: nope, token: k}\n  - {provider: olx, id: a, base_url: https://x, token: k}\n",
			want: []string{"account 1 (olx/a): base_url", "account 2 (olx/a): id: already used by account 1"}},
		{name: "relative base url", yaml: "accounts:\n  - {provider: olx, id: a, base_url: /api, token: k}\n",
			want: []string{`account 1 (olx/a): base_url "/api" must be an absolute http or https URL`}},
		{name: "missing base url", yaml: "accounts:\n  - {provider: olx, id: a, token: k}\n",
			want: []string{`account 1 (olx/a): base_url "" must be`}},
		{name: "base url credentials", yaml: "accounts:\n  - {provider: olx, id: a, base_url: 'https://u:p@x', token: k}\n",
			want: []string{"account 1 (olx/a): base_url: must not hold credentials"}},
		{name: "base url var unset", yaml: "accounts:\n  - {provider: olx, id: a, base_url: '${OLX_URL}', token: k}\n",
			want: []string{"account 1 (olx/a): base_url: environment variable OLX_URL is not set"}},
		{name: "token and token_file", yaml: "accounts:\n" + validAccount + "    token_file: /x\n",
			want: []string{"account 1 (mirakl/shop-1): token: set token or token_file, not both"}},
		{name: "no token", yaml: "accounts:\n  - {provider: olx, id: a, base_url: https://x}\n",
			want: []string{"account 1 (olx/a): token: missing; set token or token_file"}},
		{name: "null token", yaml: "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: ~}\n",
			want: []string{"account 1 (olx/a): token: missing"}},
		{name: "token var unset", yaml: "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: '${OLX_KEY}'}\n",
			want: []string{"account 1 (olx/a): token: environment variable OLX_KEY is not set"}},
		{name: "token var empty", yaml: "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: '${OLX_KEY}'}\n",
			env: map[string]string{"OLX_KEY": " "}, want: []string{"account 1 (olx/a): token: is empty"}},
		{name: "token var malformed", yaml: "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: '${OLX-KEY}'}\n",
			want: []string{"account 1 (olx/a): token: malformed ${...} reference"}},
		{name: "token with line break", yaml: "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: '${OLX_KEY}'}\n",
			env: map[string]string{"OLX_KEY": "abcd\r\nX-Evil: 1"}, want: []string{"account 1 (olx/a): token: contains control characters"}},
		{name: "token is a mapping", yaml: "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: {k: v}}\n",
			want: []string{"account 1 (olx/a): token: must be a single value, not a mapping"}},
		{name: "token file missing", yaml: "accounts:\n  - {provider: olx, id: a, base_url: https://x, token_file: nope.key}\n",
			want: []string{"account 1 (olx/a): token_file: open ", "nope.key: no such file or directory"}},
		{name: "token file empty", yaml: "accounts:\n  - {provider: olx, id: a, base_url: https://x, token_file: empty.key}\n",
			files: map[string]string{"empty.key": " \n"}, want: []string{"account 1 (olx/a): token_file: ", "empty.key is empty"}},
		{name: "initial sync", yaml: "accounts:\n" + validAccount + "    initial_sync: everything\n",
			want: []string{`account 1 (mirakl/shop-1): initial_sync "everything" must be "full" or "from_now"`}},
		{name: "options list", yaml: "accounts:\n" + validAccount + "    options: [a, b]\n",
			want: []string{"account 1 (mirakl/shop-1): options: must be a mapping of name: value (line 7)"}},
		{name: "option nested", yaml: "accounts:\n" + validAccount + "    options: {shop_id: {a: 1}}\n",
			want: []string{"account 1 (mirakl/shop-1): options.shop_id: must be a single value, not a mapping"}},
		{name: "option null", yaml: "accounts:\n" + validAccount + "    options:\n      shop_id:\n",
			want: []string{"account 1 (mirakl/shop-1): options.shop_id: has no value"}},
		{name: "option var unset", yaml: "accounts:\n" + validAccount + "    options: {shop_id: '${SHOP}'}\n",
			want: []string{"account 1 (mirakl/shop-1): options.shop_id: environment variable SHOP is not set"}},
		{name: "every error of every account", yaml: `accounts:
  - {provider: gmail, id: a, base_url: https://x, token: k, poll_interval: x}
  - {provider: olx, id: "b c", base_url: ftp://x, token_file: none.key, initial_sync: later}
`, want: []string{
			`account 1 (gmail/a): provider: "gmail" is not one of`,
			`account 1 (gmail/a): poll_interval: time: invalid duration "x"`,
			`account 2 (olx/"b c"): invalid token: id "b c"`,
			`account 2 (olx/"b c"): base_url "ftp://x"`,
			`account 2 (olx/"b c"): token_file: open `,
			`account 2 (olx/"b c"): initial_sync "later"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeAccounts(t, tt.yaml, tt.files)
			got, err := Load(path, envLookup(tt.env), 30*time.Second)
			if err == nil {
				t.Fatalf("no error; accounts %+v", got)
			}
			if got != nil {
				t.Errorf("accounts %+v returned with an error", got)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, path+": ") {
					t.Errorf("error line %q does not start with the file name", line)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), path+": "+w) && !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadAccountsErrorsNoRepeats(t *testing.T) {
	t.Parallel()
	path := writeAccounts(t, "accounts:\n  - {provider: [x], id: [y], base_url: '${U}', token: [z], initial_sync: [w]}\n", nil)
	_, err := Load(path, envLookup(nil), time.Second)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		path + ": account 1: provider: must be a single value, not a list (line 2)",
		path + ": account 1: id: must be a single value, not a list (line 2)",
		path + ": account 1: base_url: environment variable U is not set",
		path + ": account 1: token: must be a single value, not a list (line 2)",
		path + ": account 1: initial_sync: must be a single value, not a list (line 2)",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

// An account id goes into NATS subjects and Redis keys; anything that could
// add a token, a wildcard or a key separator must be refused.
func TestLoadAccountsRejectsInjection(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a.b", "*", "a*", ">", "a>", "a b", " a", "a:b", "a{b", "a}b", "{a}", "a\tb", "a/b", strings.Repeat("x", 65)} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			path := writeAccounts(t, fmt.Sprintf("accounts:\n  - {provider: mirakl, id: %q, base_url: https://x, token: k}\n", id), nil)
			_, err := Load(path, envLookup(nil), time.Second)
			if !errors.Is(err, events.ErrInvalidToken) {
				t.Fatalf("id %q: got %v, want ErrInvalidToken", id, err)
			}
			if !strings.Contains(err.Error(), "account 1 (mirakl/") {
				t.Errorf("error does not name the account: %v", err)
			}
		})
	}
}

func TestLoadAccountsMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path, envLookup(nil), time.Second)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v", err)
	}
}

// secret is recognisable anywhere it might leak.
const secret = "SECRET-7f3a9c-TOKEN"

func TestLoadAccountsNeverShowsToken(t *testing.T) {
	t.Parallel()
	env := map[string]string{"KEY": secret, "URL": secret}
	tests := []struct {
		name  string
		yaml  string
		files map[string]string
	}{
		{"other errors", "accounts:\n  - {provider: gmail, id: 'a.b', base_url: nope, token: " + secret + ", poll_interval: x, initial_sync: y, extra: 1}\n", nil},
		{"env token", "accounts:\n  - {provider: gmail, id: 'a.b', base_url: nope, token: '${KEY}'}\n", nil},
		{"token and token_file", "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: " + secret + ", token_file: f}\n", nil},
		{"token with line break", "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: \"" + secret + "\\nX: 1\"}\n", nil},
		{"token in base_url", "accounts:\n  - {provider: olx, id: a, base_url: '" + secret + "', token: '" + secret + "'}\n", nil},
		{"env token in base_url", "accounts:\n  - {provider: olx, id: a, base_url: '${URL}', token: '${KEY}'}\n", nil},
		{"env token in other account's base_url", "accounts:\n  - {provider: olx, id: a, base_url: 'https://x', token: '${KEY}'}\n  - {provider: olx, id: b, base_url: '/" + secret + "', token: k}\n", nil},
		{"token file", "accounts:\n  - {provider: olx, id: a.b, base_url: '" + secret + "', token_file: f}\n", map[string]string{"f": secret + "\n"}},
		{"duplicate token key", "accounts:\n  - provider: olx\n    token: " + secret + "\n    token: " + secret + "\n", nil},
		{"token as list", "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: [" + secret + "]}\n", nil},
		{"token as mapping", "accounts:\n  - {provider: olx, id: a, base_url: https://x, token: {" + secret + ": 1}}\n", nil},
		{"syntax: unterminated quote", "accounts:\n  - provider: olx\n    token: \"" + secret + "\n", nil},
		{"syntax: colon in token", "accounts:\n  - provider: olx\n    token: " + secret + ": x\n    id: a\n", nil},
		{"syntax: bad indent", "accounts:\n  - provider: olx\n     token: " + secret + "\n   id: a\n", nil},
		{"syntax: tab", "accounts:\n  - provider: olx\n\ttoken: " + secret + "\n", nil},
		{"syntax: flow", "accounts: [{provider: olx, token: " + secret + "}\n", nil},
		{"syntax: bad escape", "accounts:\n  - token: \"" + secret + "\\q\"\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeAccounts(t, tt.yaml, tt.files)
			_, err := Load(path, envLookup(env), time.Second)
			if err == nil {
				t.Fatal("no error")
			}
			// Check every error in the tree, not only the top message: a
			// caller may unwrap and print an inner one.
			var walk func(error)
			walk = func(e error) {
				if strings.Contains(e.Error(), secret) || strings.Contains(fmt.Sprintf("%+v %#v", e, e), secret) {
					t.Errorf("error shows the token: %v", e)
				}
				switch u := e.(type) {
				case interface{ Unwrap() error }:
					if inner := u.Unwrap(); inner != nil {
						walk(inner)
					}
				case interface{ Unwrap() []error }:
					for _, inner := range u.Unwrap() {
						walk(inner)
					}
				}
			}
			walk(err)
			t.Log(err)
		})
	}
}

// Scrubbing a message keeps errors.Is working for the sentinels inside it.
func TestLoadAccountsRedactedErrorsKeepSentinels(t *testing.T) {
	t.Parallel()
	path := writeAccounts(t, "accounts:\n  - {provider: olx, id: '"+secret+".x', base_url: https://x, token: "+secret+"}\n", nil)
	_, err := Load(path, envLookup(nil), time.Second)
	if !errors.Is(err, events.ErrInvalidToken) {
		t.Fatalf("got %v, want ErrInvalidToken", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the token: %v", err)
	}
}

func ExampleLoad() {
	dir, err := os.MkdirTemp("", "threadsync")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "accounts.yaml")
	err = os.WriteFile(path, []byte(`
accounts:
  - provider: mirakl
    id: shop-2001
    base_url: https://acme.mirakl.net
    token: ${MIRAKL_SHOP_2001_KEY}
    options:
      shop_id: 2001
  - provider: mirakl
    id: shop-1
    base_url: https://acme.mirakl.net
    token: ${MIRAKL_SHOP_1_KEY}
    poll_interval: abc
`), 0o600)
	if err != nil {
		panic(err)
	}
	env := map[string]string{"MIRAKL_SHOP_2001_KEY": "k1", "MIRAKL_SHOP_1_KEY": "k2"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	_, err = Load(path, lookup, 30*time.Second)
	fmt.Println(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
	// Output:
	// accounts.yaml: account 2 (mirakl/shop-1): poll_interval: time: invalid duration "abc"
}
