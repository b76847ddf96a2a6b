package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// The scalars of provider JSON, read through the json/v2 decoder that
// pollers.GetJSON runs. Providers document ids as integers and send
// strings, counts as numbers and send "4", booleans as 0 and 1; these
// types take what is meant, with one set of rules:
//
//   - a number is read by its exact decimal value: 5012, 5012.0, 5.012e3
//     and "5012" are the same id, written 5012; an id or count that is not
//     a whole number is an error, not a rounded guess;
//   - a string holding an id, count or boolean is trimmed of spaces;
//   - null is "" for ID and Text, unknown for Int, an error for Bool;
//   - an object or array is always an error.

// ID is an identifier sent as a JSON string or a whole number; in events
// ids are always strings. Integers keep every digit, however large.
type ID string

// UnmarshalJSONFrom reads a string, a whole number or null.
func (id *ID) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	tok, err := readScalar(d, "id")
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		*id = ""
	case '"':
		*id = ID(strings.TrimSpace(tok.String()))
	case '0':
		n, err := wholeNumber(tok.String())
		if err != nil {
			return fmt.Errorf("id %w", err)
		}
		*id = ID(n)
	default:
		return fmt.Errorf("id is a JSON %s, not a string or a number", KindName(tok.Kind()))
	}
	return nil
}

// Int is a count or size sent as a JSON number or numeric string; null or
// absent leaves Known false.
type Int struct {
	N     int64
	Known bool
}

// UnmarshalJSONFrom reads a whole number, a string holding one, or null.
func (n *Int) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	tok, err := readScalar(d, "count")
	if err != nil {
		return err
	}
	var s string
	switch tok.Kind() {
	case 'n':
		*n = Int{}
		return nil
	case '"':
		s = strings.TrimSpace(tok.String())
	case '0':
		s = tok.String()
	default:
		return fmt.Errorf("count is a JSON %s, not a number", KindName(tok.Kind()))
	}
	w, err := wholeNumber(s)
	if err != nil {
		return fmt.Errorf("count %w", err)
	}
	i, err := strconv.ParseInt(w, 10, 64)
	if err != nil {
		return fmt.Errorf("count %s is out of range", s)
	}
	*n = Int{N: i, Known: true}
	return nil
}

// Bool is a JSON boolean, 0 or 1, or a string strconv.ParseBool reads
// ("true", "0", …).
type Bool bool

// UnmarshalJSONFrom reads true, false, 0, 1 or such a string.
func (b *Bool) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	tok, err := readScalar(d, "boolean")
	if err != nil {
		return err
	}
	s := tok.String()
	switch tok.Kind() {
	case 't', 'f':
		*b = Bool(tok.Bool())
		return nil
	case '"':
		s = strings.TrimSpace(s)
	case '0':
		if w, err := wholeNumber(s); err == nil {
			s = w
		}
	default:
		return fmt.Errorf("want a boolean, got %s", KindName(tok.Kind()))
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want a boolean, got %q", s)
	}
	*b = Bool(v)
	return nil
}

// Text is free text or an opaque value (a cursor, a timestamp) that a
// provider may send as a number or boolean where a string belongs. It is
// kept as sent: a string as is, spaces included, a number or boolean as
// its JSON literal (a cursor must go back exactly as it came), null as "".
type Text string

// UnmarshalJSONFrom reads a string, a number, a boolean or null.
func (t *Text) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	tok, err := readScalar(d, "text")
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		*t = ""
	case '"', '0', 't', 'f':
		*t = Text(tok.String())
	}
	return nil
}

// readScalar reads the next token, refusing an object or array before it
// is read.
func readScalar(d *jsontext.Decoder, what string) (jsontext.Token, error) {
	if k := d.PeekKind(); k == '{' || k == '[' {
		return jsontext.Token{}, fmt.Errorf("%s is a JSON %s, not a scalar", what, KindName(k))
	}
	return d.ReadToken()
}

// maxDigits bounds the integer a number may spell out: an exponent of a
// million would otherwise write a million digits.
const maxDigits = 64

var errFraction = errors.New("is not a whole number")

// wholeNumber writes the JSON number s as a plain integer, exactly: no
// float64 in between, so that a 20-digit id keeps its last digits. It
// fails for a fraction (1.5) and for what is not a number at all.
func wholeNumber(s string) (string, error) {
	fail := func(err error) (string, error) { return "", fmt.Errorf("%q %w", s, err) }
	rest, neg := strings.CutPrefix(s, "-")
	if !neg {
		rest = strings.TrimPrefix(rest, "+") // a count in a string: "+4"
	}
	mant, exp := rest, 0
	if i := strings.IndexAny(rest, "eE"); i >= 0 {
		e, err := strconv.Atoi(rest[i+1:])
		if err != nil {
			return fail(errNotNumber)
		}
		mant, exp = rest[:i], e
	}
	whole, frac, _ := strings.Cut(mant, ".")
	if whole == "" || !isDigits(whole) || (frac != "" && !isDigits(frac)) || strings.HasSuffix(mant, ".") {
		return fail(errNotNumber)
	}
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return "0", nil
	}
	// The value is digits × 10^shift.
	shift := exp - len(frac)
	if shift < 0 {
		if -shift > len(digits) || strings.TrimLeft(digits[len(digits)+shift:], "0") != "" {
			return fail(errFraction)
		}
		digits = digits[:len(digits)+shift]
	} else {
		if len(digits)+shift > maxDigits {
			return fail(errTooLarge)
		}
		digits += strings.Repeat("0", shift)
	}
	if neg {
		digits = "-" + digits
	}
	return digits, nil
}

var (
	errNotNumber = errors.New("is not a number")
	errTooLarge  = errors.New("is too large")
)

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// KindName names a JSON kind for errors: "object", "number", …
func KindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "value"
}
