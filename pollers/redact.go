package pollers

import "strings"

// redacted hides a secret inside an error's text while keeping the error
// chain, so errors.Is and errors.As still see through it. A provider that
// echoes the credentials back in an error body must not put them in a log.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// redact returns err with every occurrence of secret in its text replaced.
func redact(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, secret) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(msg, secret, "[redacted]"), err: err}
}
