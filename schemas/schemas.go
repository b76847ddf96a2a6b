// Package schemas holds the JSON Schemas (draft 2020-12) of every event
// threadsync publishes, embedded in the binary, and validates envelopes
// against them. Each schema describes the whole CloudEvents envelope; its
// $id is the envelope's dataschema.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.json
var files embed.FS

// FS returns the schema files, for serving or writing out.
func FS() fs.FS { return files }

var (
	once     sync.Once
	compiled map[string]*jsonschema.Schema // by event type
	loadErr  error
)

func load() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	names, err := fs.Glob(files, "*.json")
	if err != nil {
		loadErr = err
		return
	}
	ids := map[string]string{}
	for _, n := range names {
		b, _ := files.ReadFile(n)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			loadErr = fmt.Errorf("schemas: %s: %w", n, err)
			return
		}
		var head struct {
			ID         string `json:"$id"`
			Properties struct {
				Type struct {
					Const string `json:"const"`
				} `json:"type"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			loadErr = fmt.Errorf("schemas: %s: %w", n, err)
			return
		}
		if err := c.AddResource(head.ID, doc); err != nil {
			loadErr = fmt.Errorf("schemas: %s: %w", n, err)
			return
		}
		ids[head.Properties.Type.Const] = head.ID
	}
	compiled = map[string]*jsonschema.Schema{}
	for typ, id := range ids {
		s, err := c.Compile(id)
		if err != nil {
			loadErr = fmt.Errorf("schemas: %s: %w", id, err)
			return
		}
		compiled[typ] = s
	}
}

// Validate checks one CloudEvents envelope, as published, against the schema
// of its type.
func Validate(envelope []byte) error {
	once.Do(load)
	if loadErr != nil {
		return loadErr
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(envelope))
	if err != nil {
		return fmt.Errorf("schemas: not JSON: %w", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("schemas: event is not a JSON object")
	}
	typ, _ := m["type"].(string)
	s, ok := compiled[typ]
	if !ok {
		return fmt.Errorf("schemas: no schema for event type %q", typ)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("schemas: %s event: %w", typ, err)
	}
	return nil
}
