package sim

import (
	"fmt"
	"sync"
	"time"
)

// Limiter admits requests at a rate; Bucket is one.
type Limiter interface {
	// Take admits a request at now if it may pass, and says how many more
	// may pass now, or, when refused, how long until one may.
	Take(now time.Time) (remaining int, wait time.Duration, ok bool)
}

// Cred is a credential (an API key, a token, a session) and the account
// it opens.
type Cred[A any] struct {
	// Key is the account's key: the name Fault.Account, ScheduleStats and
	// the provider's Go API give it.
	Key     string
	Account A
	// Limit is the credential's rate limit; nil when unlimited.
	Limit Limiter
	// Scopes are what the credential was granted, for providers that
	// check them.
	Scopes []string
}

// Accounts registers a simulator's accounts, A being the provider's
// account (its inbox), and the credentials that open them. It is safe for
// concurrent use; the zero value is empty, and refers to accounts as
// "account" in its panics and errors.
type Accounts[A any] struct {
	// Noun is what the provider calls an account ("shop", "vendor"), and
	// Prefix the simulator's package name: they make its messages.
	Noun, Prefix string

	mu    sync.RWMutex
	byKey map[string]A
	keys  []string
	creds map[string]*Cred[A]
}

// Add registers the account key, made by create if new (n is how many
// accounts there were before it), and the credential
// token for it, with the limiter newLimit returns (when newLimit is not
// nil) and scopes. A token added again for the same account changes
// nothing. It
// panics if the token already opens another account or an argument is
// empty: those are mistakes in the test.
func (as *Accounts[A]) Add(key, token string, create func(n int) A, newLimit func() Limiter, scopes ...string) *Cred[A] {
	if key == "" || token == "" {
		panic(fmt.Sprintf("%s: adding a %s needs a %s and a credential", as.prefix(), as.noun(), as.noun()))
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.byKey == nil {
		as.byKey, as.creds = map[string]A{}, map[string]*Cred[A]{}
	}
	a, ok := as.byKey[key]
	if !ok {
		a = create(len(as.keys))
		as.byKey[key] = a
		as.keys = append(as.keys, key)
	}
	if c := as.creds[token]; c != nil {
		if c.Key != key {
			panic(fmt.Sprintf("%s: credential already belongs to %s %q", as.prefix(), as.noun(), c.Key))
		}
		return c
	}
	c := &Cred[A]{Key: key, Account: a, Scopes: scopes}
	if newLimit != nil {
		c.Limit = newLimit()
	}
	as.creds[token] = c
	return c
}

// Get returns the account key, or an error naming it.
func (as *Accounts[A]) Get(key string) (A, error) {
	as.mu.RLock()
	a, ok := as.byKey[key]
	as.mu.RUnlock()
	if !ok {
		return a, fmt.Errorf("%s: unknown %s %q", as.prefix(), as.noun(), key)
	}
	return a, nil
}

// Must is Get that panics on an unknown key: a mistake in the test.
func (as *Accounts[A]) Must(key string) A {
	a, err := as.Get(key)
	if err != nil {
		panic(err)
	}
	return a
}

// Token returns the credential token, nil for an unknown one.
func (as *Accounts[A]) Token(token string) *Cred[A] {
	as.mu.RLock()
	defer as.mu.RUnlock()
	return as.creds[token]
}

// Len is the number of accounts.
func (as *Accounts[A]) Len() int {
	as.mu.RLock()
	defer as.mu.RUnlock()
	return len(as.keys)
}

func (as *Accounts[A]) noun() string {
	if as.Noun == "" {
		return "account"
	}
	return as.Noun
}

func (as *Accounts[A]) prefix() string {
	if as.Prefix == "" {
		return "sim"
	}
	return as.Prefix
}

// Buckets returns the limiter factory of a per-credential rate limit of
// rate requests a second and burst (see NewBucket); nil when rate is not
// positive, which Accounts.Add takes as unlimited.
func Buckets(rate float64, burst int) func() Limiter {
	if rate <= 0 {
		return nil
	}
	return func() Limiter { return NewBucket(rate, burst) }
}

// Locker is an account that guards its inbox with a read-write lock.
type Locker interface {
	Lock()
	Unlock()
	RLock()
	RUnlock()
}

// Edit runs f on the account key with its lock held and returns what f
// returns. It panics on an unknown account: a mistake in the test.
func Edit[A Locker, R any](as *Accounts[A], key string, f func(a A) R) R {
	a := as.Must(key)
	a.Lock()
	defer a.Unlock()
	return f(a)
}

// Lookup is View of one thing f finds: ok is false for an unknown account
// or when f finds nothing.
func Lookup[A Locker, R any](as *Accounts[A], key string, f func(a A) (R, bool)) (R, bool) {
	type found struct {
		r  R
		ok bool
	}
	got, _ := View(as, key, func(a A) found { r, ok := f(a); return found{r, ok} })
	return got.r, got.ok
}

// View runs f on the account key with its read lock held; ok is false,
// and f not run, for an unknown account.
func View[A Locker, R any](as *Accounts[A], key string, f func(a A) R) (r R, ok bool) {
	a, err := as.Get(key)
	if err != nil {
		return r, false
	}
	a.RLock()
	defer a.RUnlock()
	return f(a), true
}
