package accountsfile

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/providers"
	"github.com/threadsync/threadsync/pollers/sla"
)

// Field is one field of an account entry.
type Field struct{ Name, Desc string }

// Fields are the fields of one entry of the accounts file. The loader
// rejects any other field and the help text is printed from this table.
var Fields = []Field{
	{"provider", strings.Join(providers.Names(), " | ")},
	{"id", "unique per provider; 1-64 letters, digits, _ or -"},
	{"base_url", "the provider API's http(s) base URL"},
	{"token", "the API secret; ${VAR} expands from the environment"},
	{"token_file", "instead of token: a file holding it, relative to this file"},
	{"poll_interval", "Go duration, e.g. 15s (default THREADSYNC_POLL_INTERVAL)"},
	{"initial_sync", "full (default): publish what exists | from_now: record it silently"},
	{"options", "provider-specific settings, name: value"},
	{"sla", "a policy of sla_policies, or none (default: default_sla)"},
}

// minSecretLen is the shortest value worth scrubbing from error messages;
// shorter ones would garble messages and are no real secret.
const minSecretLen = 4

// Load reads the accounts file at path.
//
// ${VAR} in token, base_url and option values expands through lookup
// (os.LookupEnv when nil); only the braced form is expanded, so a '$' alone
// needs no escaping. A relative token_file is relative to the accounts file.
// Accounts without poll_interval get defaultInterval.
//
// Every problem in the file is reported, each naming the file, the account
// (1-based index and provider/id) and the field. No error carries a token:
// the loader never formats one, and as a second line of defence every message
// is scrubbed of every secret it read (values from the environment show as
// their ${VAR} reference).
func Load(path string, lookup func(string) (string, bool), defaultInterval time.Duration) ([]pollers.Account, error) {
	accounts, _, err := loadSource(path, lookup, defaultInterval)
	return accounts, err
}

// Source is what a load of the accounts read: the accounts file and
// the token files it names, and a fingerprint of their contents as read.
type Source struct {
	files []string
	sum   [sha256.Size]byte
}

// loadSource is Load that also says what it read.
func loadSource(path string, lookup func(string) (string, bool), defaultInterval time.Duration) ([]pollers.Account, Source, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	h := sha256.New()
	b, err := os.ReadFile(path)
	hashFile(h, path, b, err)
	l := &accountsLoader{file: path, dir: filepath.Dir(path), lookup: lookup, defaultInterval: defaultInterval, hash: h}
	var accounts []pollers.Account
	if err != nil {
		err = fmt.Errorf("accounts file: %w", err)
	} else if accounts = l.load(b); len(l.errs) > 0 {
		accounts, err = nil, l.scrubbed()
	}
	src := Source{files: append([]string{path}, l.read...)}
	h.Sum(src.sum[:0])
	return accounts, src, err
}

// fingerprint sums the files as loadSource does, to tell whether any
// changed since.
func fingerprint(files []string) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		hashFile(h, f, b, err)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func hashFile(h hash.Hash, name string, b []byte, err error) {
	if err != nil {
		b = []byte(err.Error())
	}
	fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
	h.Write(b)
}

type accountsLoader struct {
	file            string
	dir             string
	lookup          func(string) (string, bool)
	defaultInterval time.Duration

	errs    []error
	secrets map[string]string // secret value -> what to show instead
	read    []string          // token files read
	hash    hash.Hash         // of every file read

	slaPolicies map[string]*sla.Policy // sla_policies, by name
	defaultSLA  *sla.Policy            // default_sla
}

// accountError is one problem of the accounts file.
type accountError struct {
	file  string
	index int    // 1-based; 0 when the problem is not in one account
	label string // provider/id as far as known
	field string
	err   error
}

func (e *accountError) Error() string {
	var b strings.Builder
	b.WriteString(e.file)
	b.WriteString(": ")
	if e.index > 0 {
		fmt.Fprintf(&b, "account %d", e.index)
		if e.label != "" {
			b.WriteString(" (" + e.label + ")")
		}
		b.WriteString(": ")
	}
	if e.field != "" {
		b.WriteString(e.field)
		b.WriteString(": ")
	}
	b.WriteString(e.err.Error())
	return b.String()
}

func (e *accountError) Unwrap() error { return e.err }

func (l *accountsLoader) fail(index int, label, field string, err error) {
	l.errs = append(l.errs, &accountError{file: l.file, index: index, label: label, field: field, err: err})
}

func (l *accountsLoader) failf(index int, label, field, format string, args ...any) {
	l.fail(index, label, field, fmt.Errorf(format, args...))
}

// secret records a value that must not appear in any error, and what to show
// in its place.
func (l *accountsLoader) secret(value, shown string) {
	if len(value) < minSecretLen {
		return
	}
	if l.secrets == nil {
		l.secrets = make(map[string]string)
	}
	if _, ok := l.secrets[value]; !ok {
		l.secrets[value] = shown
	}
}

func (l *accountsLoader) scrubbed() error {
	if len(l.secrets) == 0 {
		return errors.Join(l.errs...)
	}
	values := make([]string, 0, len(l.secrets))
	for v := range l.secrets {
		values = append(values, v)
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(values, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(values))
	for _, v := range values {
		pairs = append(pairs, v, l.secrets[v])
	}
	r := strings.NewReplacer(pairs...)
	errs := make([]error, len(l.errs))
	for i, err := range l.errs {
		errs[i] = pollers.Redact(err, r)
	}
	return errors.Join(errs...)
}

func (l *accountsLoader) load(b []byte) []pollers.Account {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.failf(0, "", "", "the file is empty; it must hold an accounts: list")
			return nil
		}
		l.syntaxError(b, err)
		return nil
	}
	if len(doc.Content) == 0 {
		l.failf(0, "", "", "the file is empty; it must hold an accounts: list")
		return nil
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			l.syntaxError(b, err)
		} else {
			l.failf(0, "", "", "line %d: a second YAML document; put every account under one accounts: list", more.Line)
		}
		return nil
	}

	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		l.failf(0, "", "", "the top level must be a mapping holding an accounts: list")
		return nil
	}
	var top map[string]yaml.Node
	if err := root.Decode(&top); err != nil {
		l.yamlErrors(0, "", "", err)
		return nil
	}
	for _, k := range sortedKeys(top) {
		switch k {
		case "accounts", "sla_policies", "default_sla":
		default:
			v := top[k]
			l.failf(0, "", k, "unknown field (line %d); the file holds accounts:, sla_policies: and default_sla:", keyLine(root, k, v.Line))
		}
	}
	l.policies(top)
	list, ok := top["accounts"]
	if !ok {
		l.failf(0, "", "accounts", "missing")
		return nil
	}
	seq := resolve(&list)
	switch {
	case seq.Kind != yaml.SequenceNode && seq.ShortTag() != "!!null":
		l.failf(0, "", "accounts", "must be a list (line %d)", seq.Line)
		return nil
	case len(seq.Content) == 0:
		l.failf(0, "", "accounts", "the list is empty")
		return nil
	}

	accounts := make([]pollers.Account, 0, len(seq.Content))
	seen := make(map[string]int) // provider/id -> index of its first account
	for i, n := range seq.Content {
		a, ok := l.account(i+1, resolve(n))
		if a.Provider != "" && a.ID != "" {
			if first, dup := seen[a.Key()]; dup {
				l.failf(i+1, label(a.Provider, a.ID), "id", "already used by account %d", first)
				ok = false
			} else {
				seen[a.Key()] = i + 1
			}
		}
		if ok {
			accounts = append(accounts, a)
		}
	}
	return accounts
}

// account reads and validates one entry; ok is false when it has errors.
func (l *accountsLoader) account(index int, n *yaml.Node) (a pollers.Account, ok bool) {
	before := len(l.errs)
	if n.Kind != yaml.MappingNode {
		l.failf(index, "", "", "must be a mapping of %s (line %d)", fieldNames(), n.Line)
		return a, false
	}
	var fields map[string]yaml.Node
	if err := n.Decode(&fields); err != nil {
		l.yamlErrors(index, label(peek(n, "provider"), peek(n, "id")), "", err)
		return a, false
	}

	bad := make(map[string]bool) // fields already reported
	str := func(name string) string {
		v, ok := fields[name]
		if !ok {
			return ""
		}
		s, err := scalar(&v)
		if err != nil {
			l.fail(index, label(a.Provider, a.ID), name, err)
			bad[name] = true
		}
		return s
	}
	a.Provider = str("provider")
	a.ID = str("id")
	lbl := label(a.Provider, a.ID)

	for _, k := range sortedKeys(fields) {
		if !isAccountField(k) {
			v := fields[k]
			l.failf(index, lbl, k, "unknown field (line %d); want %s", keyLine(n, k, v.Line), fieldNames())
		}
	}

	// standIn holds valid values for the fields already reported, which
	// Validate checks in their place so that each problem is reported once.
	var standIn pollers.Account

	known := providers.Names()
	switch {
	case bad["provider"]:
		standIn.Provider = known[0]
	case a.Provider == "":
		l.failf(index, lbl, "provider", "missing; want one of %s", strings.Join(known, ", "))
		standIn.Provider = known[0]
	case !slices.Contains(known, a.Provider):
		l.failf(index, lbl, "provider", "%q is not one of %s", a.Provider, strings.Join(known, ", "))
		standIn.Provider = known[0]
	}
	if bad["id"] {
		standIn.ID = "stand-in"
	}

	baseURL, ok := l.expandField(index, lbl, "base_url", str("base_url"))
	a.BaseURL = baseURL
	if u, err := url.Parse(a.BaseURL); ok && err == nil && u.User != nil {
		l.failf(index, lbl, "base_url", "must not hold credentials; put the secret in token")
		ok = false
	}
	if !ok || bad["base_url"] {
		standIn.BaseURL = "https://stand-in.invalid"
	}

	inline, file := str("token"), str("token_file")
	tokenOK := false
	if !bad["token"] && !bad["token_file"] {
		a.Token, tokenOK = l.token(index, lbl, inline, file)
	}
	if !tokenOK {
		standIn.Token = "stand-in"
	}

	a.PollInterval = l.defaultInterval
	if s := str("poll_interval"); s != "" {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			l.fail(index, lbl, "poll_interval", err)
		case d <= 0:
			l.failf(index, lbl, "poll_interval", "%s must be positive", d)
		default:
			a.PollInterval = d
		}
	}

	a.InitialSync = pollers.InitialSync(str("initial_sync"))
	if a.InitialSync == "" {
		a.InitialSync = pollers.SyncFull
	}
	if bad["initial_sync"] {
		standIn.InitialSync = pollers.SyncFull
	}

	if v, ok := fields["options"]; ok {
		a.Options = l.options(index, lbl, &v)
	}
	_, set := fields["sla"]
	a.SLA = l.accountSLA(index, lbl, str("sla"), set)

	l.validate(index, lbl, a, standIn)
	return a, len(l.errs) == before
}

// validate runs pollers.Account.Validate on a, with the non-zero fields of
// standIn replacing fields already reported.
func (l *accountsLoader) validate(index int, lbl string, a, standIn pollers.Account) {
	if standIn.Provider != "" {
		a.Provider = standIn.Provider
	}
	if standIn.ID != "" {
		a.ID = standIn.ID
	}
	if standIn.InitialSync != "" {
		a.InitialSync = standIn.InitialSync
	}
	if standIn.BaseURL != "" {
		a.BaseURL = standIn.BaseURL
	}
	if standIn.Token != "" {
		a.Token = standIn.Token
	}
	err := a.Validate()
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			l.fail(index, lbl, "", e)
		}
		return
	}
	l.fail(index, lbl, "", err)
}

// token resolves the account's secret from token or token_file.
func (l *accountsLoader) token(index int, lbl, inline, file string) (string, bool) {
	var tok, field string
	switch {
	case inline != "" && file != "":
		l.failf(index, lbl, "token", "set token or token_file, not both")
		return "", false
	case inline != "":
		field = "token"
		if !strings.Contains(inline, varPrefix) {
			l.secret(inline, "[redacted]")
		}
		v, ok := l.expandField(index, lbl, field, inline)
		if !ok {
			return "", false
		}
		tok = strings.TrimSpace(v)
	case file != "":
		field = "token_file"
		if !filepath.IsAbs(file) {
			file = filepath.Join(l.dir, file)
		}
		b, err := os.ReadFile(file)
		l.read = append(l.read, file)
		hashFile(l.hash, file, b, err)
		if err != nil {
			l.fail(index, lbl, field, err)
			return "", false
		}
		tok = strings.TrimSpace(string(b))
		if tok == "" {
			l.failf(index, lbl, field, "%s is empty", file)
			return "", false
		}
	default:
		l.failf(index, lbl, "token", "missing; set token or token_file")
		return "", false
	}
	l.secret(tok, "[redacted]")
	switch {
	case tok == "":
		l.failf(index, lbl, field, "is empty")
		return "", false
	case strings.ContainsFunc(tok, unicode.IsControl):
		// It goes into an HTTP header, where a line break would be an injection.
		l.failf(index, lbl, field, "contains control characters")
		return "", false
	}
	return tok, true
}

func (l *accountsLoader) options(index int, lbl string, n *yaml.Node) map[string]string {
	n = resolve(n)
	if n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		l.failf(index, lbl, "options", "must be a mapping of name: value (line %d)", n.Line)
		return nil
	}
	var raw map[string]yaml.Node
	if err := n.Decode(&raw); err != nil {
		l.yamlErrors(index, lbl, "options", err)
		return nil
	}
	opts := make(map[string]string, len(raw))
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		field := "options." + k
		s, err := scalar(&v)
		switch {
		case err != nil:
			l.fail(index, lbl, field, err)
			continue
		case resolve(&v).ShortTag() == "!!null":
			l.failf(index, lbl, field, "has no value (line %d)", v.Line)
			continue
		}
		opts[k], _ = l.expandField(index, lbl, field, s)
	}
	return opts
}

const varPrefix = "${"

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandField replaces each ${NAME} in s with the variable's value, reporting
// unset variables and malformed references against field; ok is false when
// it reported any.
func (l *accountsLoader) expandField(index int, lbl, field, s string) (_ string, ok bool) {
	if !strings.Contains(s, varPrefix) {
		return s, true
	}
	before := len(l.errs)
	out := varRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := l.lookup(name)
		if !ok {
			l.failf(index, lbl, field, "environment variable %s is not set", name)
			return ref
		}
		l.secret(v, ref)
		return v
	})
	if strings.Contains(varRef.ReplaceAllString(s, ""), varPrefix) {
		// The text is not shown: it is likely part of a secret.
		l.failf(index, lbl, field, "malformed ${...} reference; want ${NAME} with NAME of letters, digits and _")
	}
	return out, len(l.errs) == before
}

// syntaxError reports a file yaml.v3 cannot parse. yaml.v3's syntax errors
// quote no values, but in case one ever does, whatever follows a token: key
// is scrubbed.
func (l *accountsLoader) syntaxError(b []byte, err error) {
	for _, m := range tokenLine.FindAllSubmatch(b, -1) {
		v := strings.Trim(strings.TrimSpace(string(m[1])), `"'`)
		l.secret(v, "[redacted]")
	}
	l.yamlErrors(0, "", "", err)
}

var tokenLine = regexp.MustCompile(`(?m)^[\s-]*token\s*:(.*)$`)

// yamlErrors reports a yaml.v3 error, one entry per problem for type errors
// (whose list would otherwise print as one multi-line message).
func (l *accountsLoader) yamlErrors(index int, lbl, field string, err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			l.fail(index, lbl, field, errors.New(e))
		}
		return
	}
	l.fail(index, lbl, field, err)
}

// scalar returns the text of a single value as written, so that unquoted
// numbers and booleans read as strings (2001, true, 1.50). Null is "".
func scalar(n *yaml.Node) (string, error) {
	n = resolve(n)
	switch {
	case n.Kind != yaml.ScalarNode:
		return "", fmt.Errorf("must be a single value, not a %s (line %d)", kindName(n.Kind), n.Line)
	case n.ShortTag() == "!!null":
		return "", nil
	}
	return n.Value, nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// peek returns the scalar value of key in mapping n, for naming an account
// whose entry cannot be decoded.
func peek(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if s, err := scalar(n.Content[i+1]); err == nil {
				return s
			}
		}
	}
	return ""
}

// keyLine is the line of key in mapping n, or fallback when the key came
// from a merged mapping.
func keyLine(n *yaml.Node, key string, fallback int) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return fallback
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return "value"
}

// label names an account as provider/id, quoting parts that are not plain
// tokens so a stray character cannot disguise the message.
func label(provider, id string) string {
	if provider == "" && id == "" {
		return ""
	}
	part := func(s string) string {
		switch {
		case s == "":
			return "?"
		case events.ValidToken("", s) == nil:
			return s
		}
		return strconv.Quote(s)
	}
	return part(provider) + "/" + part(id)
}

func isAccountField(name string) bool {
	for _, f := range Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

func fieldNames() string {
	names := make([]string, len(Fields))
	for i, f := range Fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
