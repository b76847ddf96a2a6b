package events

import "time"

// The account's health: published on <prefix>.<provider>.<account>.account.<state>.
const (
	// AccountFailing: the account's polls keep failing (or its credentials
	// were refused); once per run of failures.
	AccountFailing Type = "AccountFailing"
	// AccountRecovered ends a run of failures announced with AccountFailing.
	AccountRecovered Type = "AccountRecovered"
	// AccountPaused: the account is no longer polled, by an operator's
	// command or on its own after its credentials were refused for long.
	AccountPaused Type = "AccountPaused"
	// AccountResumed: a paused account is polled again.
	AccountResumed Type = "AccountResumed"
	// AccountStateLost: the account's checkpoint was gone from Redis
	// while its sync mark said it had synced before.
	AccountStateLost Type = "AccountStateLost"
)

// AccountData is the data of the account health events. Which fields are
// set depends on the type; the schemas say which are required.
type AccountData struct {
	Provider string `json:"provider"`
	Account  string `json:"account"`
	// State is the subject's last token: failing, recovered, paused,
	// resumed or state_lost.
	State string `json:"state"`
	// Since is when the state began: the first failure of the run, the
	// pause, the resumption, or when the loss was found.
	Since time.Time `json:"since"`
	// Failures counts the consecutive failed polls (AccountFailing,
	// AccountRecovered).
	Failures int `json:"failures,omitempty"`
	// ErrorClass and Error describe the last failure: the class (auth,
	// rate_limited, malformed, provider, network, redis, nats, other) and
	// its message, with every credential removed.
	ErrorClass string `json:"error_class,omitempty"`
	Error      string `json:"error,omitempty"`
	// By and Reason say who or what paused or resumed the account, and why.
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Mark is the last sync the account's mark recorded, and Action what
	// threadsync did about the loss (resume, full or stop)
	// (AccountStateLost).
	Mark   *time.Time `json:"mark,omitempty"`
	Action string     `json:"action,omitempty"`
}

// AccountState describes an account's health change, for NewAccountEvent.
type AccountState struct {
	Since      time.Time
	Failures   int
	ErrorClass string
	Error      string
	By, Reason string
	Mark       time.Time
	Action     string
}

// NewAccountEvent builds an account health event of type t. Its id derives
// from the account, the type and Since, so the same change seen by two
// replicas is one event.
func NewAccountEvent(o Origin, t Type, s AccountState) Event {
	since := s.Since.UTC()
	d := &AccountData{
		Provider: o.Provider, Account: o.Account, State: t.suffix()[len("account."):], Since: since,
		Failures: s.Failures, ErrorClass: s.ErrorClass, Error: s.Error, By: s.By, Reason: s.Reason,
		Action: s.Action,
	}
	if !s.Mark.IsZero() {
		d.Mark = utcPtr(s.Mark)
	}
	return Event{
		ID: eventID(o, t, since.Format(time.RFC3339Nano)), Type: t,
		Subject: o.Subject(t), Source: o.Source(), Thread: o.Account, Time: since, Data: d,
	}
}

// IsAccount reports whether t is an account health event, whose
// CloudEvents subject is the account rather than a thread.
func (t Type) IsAccount() bool {
	switch t {
	case AccountFailing, AccountRecovered, AccountPaused, AccountResumed, AccountStateLost:
		return true
	}
	return false
}
