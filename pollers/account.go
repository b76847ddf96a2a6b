package pollers

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sla"
)

// InitialSync says what the first walk of an account publishes.
type InitialSync string

const (
	// SyncFull publishes everything already in the inbox on the first walk.
	SyncFull InitialSync = "full"
	// SyncFromNow records the inbox silently and publishes only later changes.
	SyncFromNow InitialSync = "from_now"
)

// Account is one inbox on one provider.
type Account struct {
	Provider     string
	ID           string
	BaseURL      string
	Token        string // secret: never printed, logged or put in errors
	PollInterval time.Duration
	InitialSync  InitialSync
	Options      map[string]string
	// SLA is the reply policy of the account's reply-needed episodes;
	// nil for none.
	SLA *sla.Policy
}

// Key is the account's identity across the process: "<provider>:<id>".
func (a Account) Key() string { return a.Provider + ":" + a.ID }

// String names the account without its secret.
func (a Account) String() string { return a.Provider + "/" + a.ID }

// GoString keeps the token out of %#v.
func (a Account) GoString() string { return "pollers.Account{" + a.String() + "}" }

// Validate checks what threadsync relies on: ids safe for subjects and keys,
// an absolute http(s) base URL, a token, a known initial sync mode.
func (a Account) Validate() error {
	var errs []error
	if err := events.ValidToken("provider", a.Provider); err != nil {
		errs = append(errs, err)
	}
	if err := events.ValidToken("id", a.ID); err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(a.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("base_url %q must be an absolute http or https URL", a.BaseURL))
	}
	if a.Token == "" {
		errs = append(errs, errors.New("token is empty"))
	}
	switch a.InitialSync {
	case SyncFull, SyncFromNow:
	default:
		errs = append(errs, fmt.Errorf("initial_sync %q must be %q or %q", a.InitialSync, SyncFull, SyncFromNow))
	}
	if a.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll_interval %s is negative", a.PollInterval))
	}
	return errors.Join(errs...)
}
