package pollers

import (
	"fmt"

	"github.com/go-json-experiment/json"
)

// DecodeJSON decodes a provider body exactly as GetJSON does: the same
// json/v2 decoder with the same lenient options, and an error that wraps
// ErrMalformed. It is for code that has a body without a response, fuzz
// tests above all, which must exercise the decoder the engine runs rather
// than encoding/json's different rules (case-insensitive names, no
// UnmarshalJSONFrom methods).
func DecodeJSON(b []byte, out any) error {
	if err := json.Unmarshal(b, out, decodeOptions); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}
