package schemas_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/schemas"
)

const (
	catalogueFile = "asyncapi.yaml"
	// officialFile is vendored from @asyncapi/specs (asyncapi/NOTICE); its
	// hash pins it, so the catalogue cannot pass by editing the rules.
	officialFile   = "asyncapi/3.0.0.json"
	officialSHA256 = "d4571a420e6ffb7fcc7066c95a6db1202f299a3c51daa103d0706bf30f95e626"
	officialID     = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"

	// AsyncAPI 3.0.0 names no value for JSON Schema 2020-12; this follows
	// the spec's own application/schema+json;version=draft-07.
	payloadFormat = "application/schema+json;version=2020-12"
	envelopeType  = "application/cloudevents+json"
)

// offline refuses every load: everything the official schema refers to is
// bundled in it or is a metaschema the library carries, so a load attempt
// means a reference would otherwise go to the network.
type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, fmt.Errorf("offline: refusing to load %s", url)
}

var official = sync.OnceValues(func() (*jsonschema.Schema, error) {
	b, err := os.ReadFile(officialFile)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	if err := c.AddResource(officialID, doc); err != nil {
		return nil, err
	}
	return c.Compile(officialID)
})

func officialSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	s, err := official()
	if err != nil {
		t.Fatalf("compile the official AsyncAPI 3.0.0 schema offline: %v", err)
	}
	return s
}

// loadCatalogue reads asyncapi.yaml as the JSON value the official schema
// validates: YAML decoded, then re-read as JSON so numbers and maps take the
// forms the validator expects.
func loadCatalogue(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(catalogueFile)
	if err != nil {
		t.Fatal(err)
	}
	var y any
	if err := yaml.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", catalogueFile, err)
	}
	j, err := json.Marshal(y)
	if err != nil {
		t.Fatalf("%s: not representable as JSON: %v", catalogueFile, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("%s: not a mapping", catalogueFile)
	}
	return m
}

// eventSchemas maps each JSON Schema file of the package to its $id.
func eventSchemas(t *testing.T) map[string]string {
	t.Helper()
	names, err := fs.Glob(schemas.FS(), "*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no event schemas: %v", err)
	}
	ids := map[string]string{}
	for _, n := range names {
		b, err := fs.ReadFile(schemas.FS(), n)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			ID string `json:"$id"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		ids[n] = head.ID
	}
	return ids
}

func TestAsyncAPIOfficialSchemaIsPinned(t *testing.T) {
	b, err := os.ReadFile(officialFile)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != officialSHA256 {
		t.Errorf("%s changed: sha256 %s, want %s (the copy in @asyncapi/specs)", officialFile, got, officialSHA256)
	}
	notice, err := os.ReadFile("asyncapi/NOTICE")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"@asyncapi/specs", "Apache License, Version 2.0", officialSHA256} {
		if !bytes.Contains(notice, []byte(want)) {
			t.Errorf("asyncapi/NOTICE does not mention %q", want)
		}
	}
	if _, err := os.Stat("asyncapi/LICENSE"); err != nil {
		t.Errorf("the Apache-2.0 licence of the vendored schema is missing: %v", err)
	}
}

func TestAsyncAPIValidatesAgainstOfficialSchema(t *testing.T) {
	if err := officialSchema(t).Validate(any(loadCatalogue(t))); err != nil {
		t.Fatalf("%s is not a valid AsyncAPI 3.0.0 document:\n%v", catalogueFile, err)
	}
}

// The official schema must reject documents that are wrong, including the
// AsyncAPI 2 forms a catalogue is easily written in by habit.
func TestAsyncAPIOfficialSchemaRejectsBrokenDocuments(t *testing.T) {
	s := officialSchema(t)
	cases := []struct {
		name   string
		mutate func(doc map[string]any)
		at     string // where the error must point
		want   string // what it must say there
	}{
		{"AsyncAPI 2 version", func(d map[string]any) { d["asyncapi"] = "2.6.0" },
			"/asyncapi", "value must be '3.0.0'"},
		{"no info title", func(d map[string]any) { delete(obj(d, "info"), "title") },
			"/info", "missing property 'title'"},
		{"unknown top-level field", func(d map[string]any) { d["events"] = map[string]any{} },
			"", "additional properties 'events' not allowed"},
		{"AsyncAPI 2 publish action", func(d map[string]any) { obj(d, "operations", "publishThreadCreated")["action"] = "publish" },
			"/operations/publishThreadCreated/action", "value must be one of"},
		{"operation without channel", func(d map[string]any) { delete(obj(d, "operations", "publishReplyNeeded"), "channel") },
			"/operations/publishReplyNeeded", "missing property 'channel'"},
		{"AsyncAPI 2 subscribe in a channel", func(d map[string]any) {
			obj(d, "channels", "messageReceived")["subscribe"] = map[string]any{"message": map[string]any{}}
		}, "/channels/messageReceived", "additional properties 'subscribe' not allowed"},
		{"AsyncAPI 2 parameter schema", func(d map[string]any) {
			obj(d, "components", "parameters", "account")["schema"] = map[string]any{"type": "string"}
		}, "/components/parameters/account", "additional properties 'schema' not allowed"},
		{"server without protocol", func(d map[string]any) { delete(obj(d, "servers", "local"), "protocol") },
			"/servers/local", "missing property 'protocol'"},
		{"reference that is not a string", func(d map[string]any) {
			obj(d, "channels", "accountPaused", "messages", "AccountPaused")["$ref"] = 42
		}, "/channels/accountPaused/messages/AccountPaused/$ref", "got number, want string"},
		{"message content type not a string", func(d map[string]any) {
			obj(d, "components", "messages", "AccountFailing")["contentType"] = []any{envelopeType}
		}, "/components/messages/AccountFailing/contentType", "got array, want string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := loadCatalogue(t)
			c.mutate(doc)
			err := s.Validate(any(doc))
			if err == nil {
				t.Fatal("the official schema accepted a broken document")
			}
			if want := fmt.Sprintf("at '%s': %s", c.at, c.want); !strings.Contains(err.Error(), want) {
				t.Fatalf("rejected, but not with %q:\n%v", want, err)
			}
		})
	}
}

func TestAsyncAPICataloguesEveryEvent(t *testing.T) {
	for _, p := range checkCatalogue(t, loadCatalogue(t), eventSchemas(t)) {
		t.Error(p)
	}
}

// checkCatalogue must notice when the catalogue and the code disagree.
func TestAsyncAPICatalogueCheckRejectsBrokenDocuments(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(doc map[string]any)
		want   string // in one of the problems found
	}{
		{"message missing", func(d map[string]any) { delete(obj(d, "components", "messages"), "ReplySLABreached") },
			"ReplySLABreached: no message"},
		{"channel missing", func(d map[string]any) {
			delete(obj(d, "channels"), "accountStateLost")
			delete(obj(d, "operations"), "publishAccountStateLost")
		}, "AccountStateLost: no channel"},
		{"wrong subject suffix", func(d map[string]any) {
			obj(d, "channels", "accountPaused")["address"] = "{prefix}.{provider}.{account}.account.pause"
		}, "does not end with .account.paused"},
		{"payload of another type", func(d map[string]any) {
			obj(d, "components", "messages", "ReplyResolved", "payload", "schema")["$ref"] = "./reply.needed.v1.json"
		}, "reply.resolved.v1.json is referenced by no message"},
		{"payload in another format", func(d map[string]any) {
			obj(d, "components", "messages", "ThreadCreated", "payload")["schemaFormat"] = "application/schema+json;version=draft-07"
		}, "schemaFormat"},
		{"dangling reference", func(d map[string]any) {
			obj(d, "channels", "replyNeeded", "parameters", "account")["$ref"] = "#/components/parameters/shop"
		}, "does not resolve"},
		{"parameter missing", func(d map[string]any) { delete(obj(d, "channels", "threadCreated", "parameters"), "prefix") },
			"{prefix} has no parameter"},
		{"operation receives", func(d map[string]any) { obj(d, "operations", "publishMessageReceived")["action"] = "receive" },
			"MessageReceived: no send operation"},
		{"example of another type", func(d map[string]any) {
			ex := obj(d, "components", "messages", "AccountResumed")["examples"].([]any)[0].(map[string]any)
			ex["headers"].(map[string]any)["Ce-Type"] = "AccountPaused"
		}, "AccountResumed example"},
		{"example payload off schema", func(d map[string]any) {
			ex := obj(d, "components", "messages", "ReplySLAWarning")["examples"].([]any)[0].(map[string]any)
			delete(ex["payload"].(map[string]any), "dataschema")
		}, "ReplySLAWarning example"},
		{"Ce-Type not pinned", func(d map[string]any) {
			h := obj(d, "components", "messages", "ReplyNeeded", "headers")
			h["allOf"] = h["allOf"].([]any)[:1]
		}, "ReplyNeeded: headers accept Ce-Type"},
		{"message of an unknown type", func(d map[string]any) {
			obj(d, "components", "messages")["ThreadDeleted"] = map[string]any{"name": "ThreadDeleted"}
		}, "ThreadDeleted: not an event type"},
	}
	files := eventSchemas(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := loadCatalogue(t)
			c.mutate(doc)
			problems := checkCatalogue(t, doc, files)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Fatalf("no problem mentions %q; found:\n%s", c.want, strings.Join(problems, "\n"))
			}
		})
	}
}

// The parameters' patterns are documentation, so they must say what the
// code accepts.
func TestAsyncAPIParameterPatternsMatchTheCode(t *testing.T) {
	doc := loadCatalogue(t)
	accepts := map[string]func(string) bool{
		"prefix": func(s string) bool {
			return events.Origin{Prefix: s, Provider: "p", Account: "a"}.Validate() == nil
		},
		"provider": func(s string) bool { return events.ValidToken("provider", s) == nil },
		"account":  func(s string) bool { return events.ValidToken("account", s) == nil },
	}
	samples := []string{"inbox", "acme.inbox", "a.b.c", "shop-2001", "x_Y-9", strings.Repeat("a", 64),
		strings.Repeat("a", 65), "", ".", "inbox.", ".inbox", "a..b", "in box", "in*", ">", "a:b", "a{b}", "é",
		"inbox." + strings.Repeat("b", 65)}
	params := obj(doc, "components", "parameters")
	for name, code := range accepts {
		p := obj(params, name)
		pat, _ := p["x-pattern"].(string)
		re, err := regexp.Compile(pat)
		if pat == "" || err != nil {
			t.Errorf("parameter %s: x-pattern %q: %v", name, pat, err)
			continue
		}
		if d, _ := p["description"].(string); !strings.Contains(d, pat) {
			t.Errorf("parameter %s: description does not state its pattern %s", name, pat)
		}
		for _, s := range samples {
			if re.MatchString(s) != code(s) {
				t.Errorf("parameter %s: pattern says %q is %v, the code %v", name, s, re.MatchString(s), code(s))
			}
		}
		vals, _ := p["examples"].([]any)
		if d, ok := p["default"]; ok {
			vals = append(vals, d)
		}
		for _, v := range vals {
			if s, _ := v.(string); !code(s) {
				t.Errorf("parameter %s: example or default %v is not accepted by the code", name, v)
			}
		}
	}
}

// checkCatalogue lists every way doc fails to describe what the code
// publishes. files maps the event schema files to their $id.
func checkCatalogue(t *testing.T, doc map[string]any, files map[string]string) []string {
	t.Helper()
	var problems []string
	addf := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	for _, ref := range refs(doc) {
		if local, ok := strings.CutPrefix(ref, "#"); ok {
			if _, found := pointer(doc, local); !found {
				addf("$ref %s does not resolve", ref)
			}
		} else if _, ok := files[strings.TrimPrefix(ref, "./")]; !ok {
			addf("$ref %s names no schema file of the package", ref)
		}
	}

	headers := headerValidators(t, doc)
	messages := obj(doc, "components", "messages")
	channels := obj(doc, "channels")
	operations := obj(doc, "operations")
	referenced := map[string]bool{}
	for _, m := range messages {
		if f, ok := obj(m.(map[string]any), "payload", "schema")["$ref"].(string); ok {
			referenced[strings.TrimPrefix(f, "./")] = true
		}
	}
	for f := range files {
		if !referenced[f] {
			addf("%s is referenced by no message", f)
		}
	}
	for name := range messages {
		if !slices.Contains(events.Types, events.Type(name)) {
			addf("%s: not an event type threadsync publishes", name)
		}
	}

	coveredChannels := map[string]bool{}
	for _, typ := range events.Types {
		name := string(typ)
		m, ok := messages[name].(map[string]any)
		if !ok {
			addf("%s: no message", name)
			continue
		}
		if m["name"] != name {
			addf("%s: message name %v", name, m["name"])
		}
		if m["contentType"] != envelopeType {
			addf("%s: contentType %v, want %s", name, m["contentType"], envelopeType)
		}
		payload := obj(m, "payload")
		if payload["schemaFormat"] != payloadFormat {
			addf("%s: payload schemaFormat %v, want %s", name, payload["schemaFormat"], payloadFormat)
		}
		file, _ := obj(payload, "schema")["$ref"].(string)
		if id, ok := files[strings.TrimPrefix(file, "./")]; !ok || id != typ.SchemaID() {
			addf("%s: payload %q is not the schema %s", name, file, typ.SchemaID())
		}

		h := headers[name]
		if h == nil {
			addf("%s: headers do not compile", name)
		} else {
			good := map[string]any{"Nats-Msg-Id": "5b0c2a5e-7c1f-5e53-9b1e-6f1f3f6d7a10", "Content-Type": envelopeType, "Ce-Type": name}
			if err := h.Validate(good); err != nil {
				addf("%s: headers reject what the publisher sends: %v", name, err)
			}
			other := events.ThreadCreated
			if typ == other {
				other = events.MessageReceived
			}
			for k, v := range map[string]any{"Ce-Type": string(other), "Content-Type": "application/json", "Nats-Msg-Id": nil} {
				bad := maps.Clone(good)
				if v == nil {
					delete(bad, k)
				} else {
					bad[k] = v
				}
				if h.Validate(bad) == nil {
					addf("%s: headers accept %s %v", name, k, v)
				}
			}
		}
		checkExamples(m, typ, h, addf)

		var chans []string
		for key, c := range channels {
			if _, ok := obj(c.(map[string]any), "messages")[name]; ok {
				chans = append(chans, key)
			}
		}
		if len(chans) != 1 {
			addf("%s: no channel, or more than one: %v", name, chans)
			continue
		}
		key := chans[0]
		coveredChannels[key] = true
		ch := obj(channels, key)
		if ref, _ := obj(ch, "messages", name)["$ref"].(string); ref != "#/components/messages/"+name {
			addf("%s: channel %s's message is %q", name, key, ref)
		}
		checkAddress(doc, ch, key, typ, addf)

		send := false
		for _, o := range operations {
			op := o.(map[string]any)
			if op["action"] != "send" || obj(op, "channel")["$ref"] != "#/channels/"+key {
				continue
			}
			msgs, _ := op["messages"].([]any)
			send = send || slices.ContainsFunc(msgs, func(r any) bool {
				ref, _ := r.(map[string]any)["$ref"].(string)
				return ref == "#/channels/"+key+"/messages/"+name
			})
		}
		if !send {
			addf("%s: no send operation on channel %s with its message", name, key)
		}
	}
	for key := range channels {
		if !coveredChannels[key] {
			addf("channel %s carries no event type", key)
		}
	}
	return problems
}

var paramRE = regexp.MustCompile(`\{([^}]*)\}`)

// checkAddress checks a channel's address against the code's own subject:
// the template filled with each parameter's first example.
func checkAddress(doc, ch map[string]any, key string, typ events.Type, addf func(string, ...any)) {
	addr, _ := ch["address"].(string)
	if !strings.HasSuffix(addr, "."+typ.SubjectSuffix()) {
		addf("%s: channel %s address %q does not end with .%s", typ, key, addr, typ.SubjectSuffix())
	}
	params := obj(ch, "parameters")
	var names []string
	filled := paramRE.ReplaceAllStringFunc(addr, func(m string) string {
		n := m[1 : len(m)-1]
		names = append(names, n)
		p, _ := params[n].(map[string]any)
		if ref, ok := p["$ref"].(string); ok {
			v, _ := pointer(doc, strings.TrimPrefix(ref, "#"))
			p, _ = v.(map[string]any)
		}
		if p == nil {
			addf("%s: channel %s: {%s} has no parameter", typ, key, n)
			return m
		}
		ex, _ := p["examples"].([]any)
		if len(ex) == 0 {
			addf("%s: channel %s: parameter %s has no example", typ, key, n)
			return m
		}
		s, _ := ex[0].(string)
		return s
	})
	if !slices.Equal(names, []string{"prefix", "provider", "account"}) {
		addf("%s: channel %s: address parameters %v, want prefix, provider, account", typ, key, names)
	}
	for n := range params {
		if !slices.Contains(names, n) {
			addf("%s: channel %s: parameter %s is not in the address", typ, key, n)
		}
	}
	o := events.Origin{Prefix: "inbox", Provider: "mirakl", Account: "shop-2001"}
	if want := o.Subject(typ); filled != want {
		addf("%s: channel %s address filled with the examples is %q, the code publishes on %q", typ, key, filled, want)
	}
}

// checkExamples holds each example to what the publisher sends: an
// envelope its schema accepts, and the headers that go with it.
func checkExamples(m map[string]any, typ events.Type, headers *jsonschema.Schema, addf func(string, ...any)) {
	examples, _ := m["examples"].([]any)
	if len(examples) == 0 {
		addf("%s: no example", typ)
	}
	for i, e := range examples {
		ex, _ := e.(map[string]any)
		b, _ := json.Marshal(ex["payload"])
		if err := schemas.Validate(b); err != nil {
			addf("%s example %d: payload: %v", typ, i, err)
		}
		env, err := events.ParseEnvelope(b)
		if err != nil || env.Type != typ {
			addf("%s example %d: payload of type %q (%v)", typ, i, env.Type, err)
		}
		h, _ := ex["headers"].(map[string]any)
		if headers != nil {
			if err := headers.Validate(any(h)); err != nil {
				addf("%s example %d: headers: %v", typ, i, err)
			}
		}
		if h["Nats-Msg-Id"] != env.ID {
			addf("%s example %d: Nats-Msg-Id %v differs from id %q", typ, i, h["Nats-Msg-Id"], env.ID)
		}
		if h["Ce-Type"] != string(typ) {
			addf("%s example %d: Ce-Type %v", typ, i, h["Ce-Type"])
		}
	}
}

// headerValidators compiles each message's headers schema (an AsyncAPI
// Schema Object, a superset of draft-07) from the document itself, so that
// its references to components resolve as a reader's tool would resolve
// them.
func headerValidators(t *testing.T, doc map[string]any) map[string]*jsonschema.Schema {
	t.Helper()
	const base = "urn:threadsync:asyncapi"
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	if err := c.AddResource(base, any(doc)); err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for name := range obj(doc, "components", "messages") {
		s, err := c.Compile(base + "#/components/messages/" + escape(name) + "/headers")
		if err == nil {
			out[name] = s
		}
	}
	return out
}

// refs lists every $ref string in v.
func refs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" {
				out = append(out, s)
			} else {
				out = append(out, refs(e)...)
			}
		}
	case []any:
		for _, e := range v {
			out = append(out, refs(e)...)
		}
	}
	return out
}

// pointer resolves a JSON pointer (RFC 6901) in doc.
func pointer(doc any, p string) (any, bool) {
	if p == "" {
		return doc, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	v := doc
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return v, true
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// obj walks down mappings, giving an empty one where the path ends early,
// so that checks report what is missing rather than panic.
func obj(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, _ := m[k].(map[string]any)
		if next == nil {
			return map[string]any{}
		}
		m = next
	}
	return m
}
