package api

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Option is one setting of a provider's accounts (pollers.Account.Options),
// declared once: the declaration validates accounts, documents the option
// and reads its value.
type Option[T any] struct {
	Name string
	// Default is what an account that leaves the option out gets, written
	// as an accounts file would write it; "" for none (the zero T).
	Default string
	// Required: an account must set the option; Default is then unused.
	Required bool
	// Doc says what the option does: a phrase, no capital, no final period.
	Doc string
	// Want says what a value must be, as in "want an integer from 1 to
	// 100"; errors and the README both say it. Plain text, no Markdown.
	Want string
	// Parse reads a value. Its error says what is wrong beyond Want, or is
	// ErrInvalidOption when Want says it all.
	Parse func(v string) (T, error)
}

// Spec describes an option, whatever its type.
type Spec struct {
	Name, Default, Doc, Want string
	Required                 bool
}

// Declared is an Option of any type, as Options holds it.
type Declared interface {
	Spec() Spec
	parse(v string) (any, error)
	zero() any
}

// Spec describes the option.
func (o *Option[T]) Spec() Spec {
	return Spec{Name: o.Name, Default: o.Default, Doc: o.Doc, Want: o.Want, Required: o.Required}
}

func (o *Option[T]) parse(v string) (any, error) { return o.Parse(v) }

func (o *Option[T]) zero() any {
	var z T
	return z
}

// Get returns the option's value in v: what the account set, else the
// default. It panics when v comes from Options without o, a mistake any
// test that builds the client finds.
func (o *Option[T]) Get(v Values) T {
	x, ok := v.values[o.Name]
	if !ok {
		panic("api: option " + o.Name + " is not declared in the Options that parsed these values")
	}
	return x.(T)
}

// Values are an account's options as Options.Parse read them.
type Values struct{ values map[string]any }

// Options lists a provider's options in the order its documentation gives
// them. Parse also accepts EngineOptions, the options every provider takes.
type Options []Declared

// Specs describes the options in order.
func (opts Options) Specs() []Spec {
	out := make([]Spec, len(opts))
	for i, o := range opts {
		out[i] = o.Spec()
	}
	return out
}

// Names are the options' names in order.
func (opts Options) Names() []string {
	out := make([]string, len(opts))
	for i, o := range opts {
		out[i] = o.Spec().Name
	}
	return out
}

// Parse validates an account's options and reads them. Every problem is
// reported, in OptionErrors: options set wrongly or missing in declaration
// order, then unknown ones by name.
func (opts Options) Parse(set map[string]string) (Values, error) {
	v := Values{values: make(map[string]any, len(opts)+len(EngineOptions))}
	var errs OptionErrors
	for _, list := range []Options{opts, EngineOptions} {
		for _, o := range list {
			s := o.Spec()
			raw, ok := set[s.Name]
			switch {
			case ok:
			case s.Required:
				errs = append(errs, &OptionError{Kind: ErrMissingOption, Name: s.Name, Want: s.Want, Doc: s.Doc})
				continue
			case s.Default == "":
				v.values[s.Name] = o.zero()
				continue
			default:
				raw = s.Default
			}
			x, err := o.parse(raw)
			if err != nil {
				if !ok {
					panic(fmt.Sprintf("api: option %s: default %q does not parse: %v", s.Name, raw, err))
				}
				errs = append(errs, &OptionError{Kind: ErrInvalidOption, Name: s.Name, Value: raw, Want: s.Want, Reason: err})
				continue
			}
			v.values[s.Name] = x
		}
	}
	known := append(opts.Names(), EngineOptions.Names()...)
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if !slices.Contains(known, k) {
			errs = append(errs, &OptionError{Kind: ErrUnknownOption, Name: k, Value: set[k], Known: known})
		}
	}
	if len(errs) > 0 {
		return v, errs
	}
	return v, nil
}

// OptionErrors are every problem of an account's options, on one line, so
// that the account named in front of them (the engine's "account <id>: ")
// applies to all.
type OptionErrors []*OptionError

func (es OptionErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap makes errors.Is and errors.As see each problem.
func (es OptionErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// The kinds of OptionError.
var (
	ErrInvalidOption = errors.New("invalid option value")
	ErrMissingOption = errors.New("required option missing")
	ErrUnknownOption = errors.New("unknown option")
)

// OptionError is an account's option that is set wrongly, required and
// missing, or unknown. It never holds the account's token: options are not
// secrets.
type OptionError struct {
	Kind  error // ErrInvalidOption, ErrMissingOption or ErrUnknownOption
	Name  string
	Value string   // as the account set it
	Want  string   // what a value must be
	Doc   string   // for a missing option: what it is for
	Known []string // for an unknown option: the options there are
	// Reason is what the option's parser found beyond Want.
	Reason error
}

func (e *OptionError) Error() string {
	switch e.Kind {
	case ErrUnknownOption:
		return fmt.Sprintf("unknown option %q (known: %s)", e.Name, strings.Join(e.Known, ", "))
	case ErrMissingOption:
		return fmt.Sprintf("option %s is required (%s): want %s", e.Name, e.Doc, e.Want)
	}
	if e.Reason == nil || errors.Is(e.Reason, ErrInvalidOption) {
		return fmt.Sprintf("option %s %q: want %s", e.Name, e.Value, e.Want)
	}
	return fmt.Sprintf("option %s %q (%v): want %s", e.Name, e.Value, e.Reason, e.Want)
}

// Unwrap makes errors.Is see the kind and the parser's reason.
func (e *OptionError) Unwrap() []error { return []error{e.Kind, e.Reason} }

// IntOption is an integer from lo to hi, def by default.
func IntOption(name string, def, lo, hi int, doc string) *Option[int] {
	return &Option[int]{
		Name: name, Default: strconv.Itoa(def), Doc: doc,
		Want: fmt.Sprintf("an integer from %d to %d", lo, hi),
		Parse: func(v string) (int, error) {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				return 0, ErrInvalidOption
			}
			return n, nil
		},
	}
}

// BoolOption is true or false (as strconv.ParseBool reads them), def by
// default.
func BoolOption(name string, def bool, doc string) *Option[bool] {
	return &Option[bool]{
		Name: name, Default: strconv.FormatBool(def), Doc: doc, Want: "true or false",
		Parse: func(v string) (bool, error) {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return false, ErrInvalidOption
			}
			return b, nil
		},
	}
}

// ChoiceOption is one of choices, def by default.
func ChoiceOption(name, def string, choices []string, doc string) *Option[string] {
	quoted := make([]string, len(choices))
	for i, c := range choices {
		quoted[i] = strconv.Quote(c)
	}
	want := strings.Join(quoted, " or ")
	if len(quoted) > 2 {
		want = strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	}
	return &Option[string]{
		Name: name, Default: def, Doc: doc, Want: want,
		Parse: func(v string) (string, error) {
			if !slices.Contains(choices, v) {
				return "", ErrInvalidOption
			}
			return v, nil
		},
	}
}

// StringOption is any text, "" (none) by default.
func StringOption(name, doc string) *Option[string] {
	return &Option[string]{
		Name: name, Doc: doc,
		Parse: func(v string) (string, error) { return v, nil },
	}
}
