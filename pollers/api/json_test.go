package api_test

import (
	"errors"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

func TestID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`91234`: "91234", `"91234"`: "91234", `" 42 "`: "42", `"abc-1"`: "abc-1", `"a\u00e9"`: "aé",
		`1e3`: "1000", `12.0`: "12", `5012.0`: "5012", `5.012e3`: "5012", `1.5e3`: "1500", `-7`: "-7",
		`-0`: "0", `0.0`: "0", `120e-1`: "12", `null`: "",
		`12345678901234567890`: "12345678901234567890", `1.2345678901234567890e19`: "12345678901234567890",
	} {
		var id api.ID
		if err := pollers.DecodeJSON([]byte(in), &id); err != nil || string(id) != want {
			t.Errorf("%s: got %q, %v; want %q", in, id, err, want)
		}
	}
	for _, in := range []string{`1.5`, `1e-1`, `1e999`, `true`, `false`, `{}`, `[1]`} {
		var id api.ID
		if err := pollers.DecodeJSON([]byte(in), &id); !errors.Is(err, pollers.ErrMalformed) {
			t.Errorf("%s: got %q, %v; want an error", in, id, err)
		}
	}
}

func TestInt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]api.Int{
		`4`: {N: 4, Known: true}, `"4"`: {N: 4, Known: true}, `" 4 "`: {N: 4, Known: true}, `"+4"`: {N: 4, Known: true}, `4.0`: {N: 4, Known: true},
		`"34"`: {N: 34, Known: true}, `0`: {N: 0, Known: true}, `-2`: {N: -2, Known: true}, `null`: {},
	} {
		var n api.Int
		if err := pollers.DecodeJSON([]byte(in), &n); err != nil || n != want {
			t.Errorf("%s: got %+v, %v; want %+v", in, n, err, want)
		}
	}
	for _, in := range []string{`"four"`, `4.5`, `"4.5"`, `false`, `[]`, `{}`, `9223372036854775808`, `""`} {
		var n api.Int
		if err := pollers.DecodeJSON([]byte(in), &n); err == nil {
			t.Errorf("%s: got %+v, want an error", in, n)
		}
	}
	// Absent is unknown too.
	var v struct{ N api.Int }
	if err := pollers.DecodeJSON([]byte(`{}`), &v); err != nil || v.N.Known {
		t.Errorf("absent: %+v, %v", v, err)
	}
}

func TestBool(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		`true`: true, `false`: false, `1`: true, `0`: false, `"true"`: true, `"0"`: false, `"1"`: true, `1.0`: true,
	} {
		var b api.Bool
		if err := pollers.DecodeJSON([]byte(in), &b); err != nil || bool(b) != want {
			t.Errorf("%s: got %v, %v; want %v", in, b, err, want)
		}
	}
	for _, in := range []string{`"maybe"`, `2`, `null`, `[]`, `{}`} {
		var b api.Bool
		if err := pollers.DecodeJSON([]byte(in), &b); err == nil {
			t.Errorf("%s: got %v, want an error", in, b)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`"x-1"`: "x-1", `" spaced "`: " spaced ", `1.5`: "1.5", `5012.0`: "5012.0", `1699335116123`: "1699335116123",
		`true`: "true", `null`: "",
	} {
		var s api.Text
		if err := pollers.DecodeJSON([]byte(in), &s); err != nil || string(s) != want {
			t.Errorf("%s: got %q, %v; want %q", in, s, err, want)
		}
	}
	for _, in := range []string{`{"id": 1}`, `[1]`} {
		var s api.Text
		if err := pollers.DecodeJSON([]byte(in), &s); err == nil {
			t.Errorf("%s: got %q, want an error", in, s)
		}
	}
}

// FuzzID: whatever the bytes, an ID either decodes to a canonical id or
// the body is malformed; a number that decodes is a plain integer.
func FuzzID(f *testing.F) {
	for _, s := range []string{`5012`, `5012.0`, `"5012"`, `1e3`, `-0.0e5`, `1.5`, `1e999999999`, `"a"`, `null`, `true`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var id api.ID
		err := pollers.DecodeJSON(body, &id)
		if err != nil {
			if !errors.Is(err, pollers.ErrMalformed) {
				t.Fatalf("%v does not wrap ErrMalformed", err)
			}
			return
		}
		// An id read back from its own text is itself.
		quoted, err := jsontext.AppendQuote(nil, string(id))
		var again api.ID
		if err == nil && pollers.DecodeJSON(quoted, &again) == nil && again != id {
			t.Fatalf("%q read back as %q", id, again)
		}
		if len(id) > 70 && body[0] != '"' {
			t.Fatalf("number %s spelled out as %d digits", body, len(id))
		}
	})
}
