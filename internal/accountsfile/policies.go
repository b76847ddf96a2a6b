package accountsfile

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/threadsync/threadsync/pollers/sla"
)

// slaNone is the value of an account's sla that asks for no policy, even
// when the file has a default_sla.
const slaNone = "none"

// policies reads the file's sla_policies and default_sla.
func (l *accountsLoader) policies(top map[string]yaml.Node) {
	if n, ok := top["sla_policies"]; ok {
		m := resolve(&n)
		switch {
		case m.ShortTag() == "!!null":
		case m.Kind != yaml.MappingNode:
			l.failf(0, "", "sla_policies", "must be a mapping of policy name: policy (line %d)", m.Line)
		default:
			l.slaPolicies = map[string]*sla.Policy{}
			for i := 0; i+1 < len(m.Content); i += 2 {
				name, v := m.Content[i].Value, m.Content[i+1]
				field := "sla_policies." + name
				if _, dup := l.slaPolicies[name]; dup {
					l.failf(0, "", field, "defined twice (line %d)", m.Content[i].Line)
					continue
				}
				spec, err := decodeStrict[sla.Spec](resolve(v))
				if err != nil {
					l.failf(0, "", field, "line %d: %v", v.Line, err)
					continue
				}
				p, err := sla.Parse(name, spec)
				if err != nil {
					l.failf(0, "", field, "line %d: %v", v.Line, err)
					continue
				}
				l.slaPolicies[name] = p
			}
		}
	}
	if n, ok := top["default_sla"]; ok {
		name, err := scalar(&n)
		switch {
		case err != nil:
			l.fail(0, "", "default_sla", err)
		case name == "" || name == slaNone:
		case l.slaPolicies[name] == nil:
			l.failf(0, "", "default_sla", "%q is not a policy of sla_policies%s", name, l.policyList())
		default:
			l.defaultSLA = l.slaPolicies[name]
		}
	}
}

// accountSLA resolves an account's sla field: a policy name, none, or
// (absent) the file's default_sla.
func (l *accountsLoader) accountSLA(index int, lbl, name string, set bool) *sla.Policy {
	switch {
	case !set || name == "":
		return l.defaultSLA
	case name == slaNone:
		return nil
	}
	p := l.slaPolicies[name]
	if p == nil {
		l.failf(index, lbl, "sla", "%q is not a policy of sla_policies%s", name, l.policyList())
	}
	return p
}

func (l *accountsLoader) policyList() string {
	if len(l.slaPolicies) == 0 {
		return " (the file defines none)"
	}
	return " (" + strings.Join(sortedKeys(l.slaPolicies), ", ") + ", or none)"
}

// decodeStrict decodes n into a T, refusing fields T does not have.
func decodeStrict[T any](n *yaml.Node) (T, error) {
	var v T
	b, err := yaml.Marshal(n)
	if err != nil {
		return v, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err = dec.Decode(&v)
	return v, err
}
