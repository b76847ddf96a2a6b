package sim

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Limiter admits requests at a rate; Bucket is one.
type Limiter interface {
	// Take admits a request at now and says how many more may pass, or how long until one may.
	Take(now time.Time) (remaining int, wait time.Duration, ok bool)
}

// Cred is a credential (a key, a token) and the account it opens, by its key.
type Cred[A any] struct {
	Key     string
	Account A
	Limit   Limiter // nil when unlimited
	Scopes  []string
}

// Accounts registers a simulator's accounts and credentials; it is safe for concurrent use.
type Accounts[A any] struct {
	Noun, Prefix string // "shop" (default "account") and the simulator's name, for messages

	mu    sync.RWMutex
	byKey map[string]A
	creds map[string]*Cred[A]
}

// Add registers the account key, made by create if new, and its credential token, limited
// by newLimit() if not nil; it panics on a token of another account.
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
		a = create(len(as.byKey))
		as.byKey[key] = a
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
func (as *Accounts[A]) Must(key string) A { return Must(as.Get(key)) }

// Token returns the credential token, nil for an unknown one.
func (as *Accounts[A]) Token(token string) *Cred[A] {
	as.mu.RLock()
	defer as.mu.RUnlock()
	return as.creds[token]
}

func (as *Accounts[A]) noun() string   { return cmp.Or(as.Noun, "account") }
func (as *Accounts[A]) prefix() string { return cmp.Or(as.Prefix, "sim") }

// Buckets makes Buckets of rate and burst; nil, unlimited, without a rate.
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

// Edit runs f on the account key locked; it panics on an unknown account.
func Edit[A Locker, R any](as *Accounts[A], key string, f func(a A) R) R {
	a := as.Must(key)
	a.Lock()
	defer a.Unlock()
	return f(a)
}

// View runs f on the account key read-locked; ok is false for an unknown one.
func View[A Locker, R any](as *Accounts[A], key string, f func(a A) R) (r R, ok bool) {
	a, err := as.Get(key)
	if err != nil {
		return r, false
	}
	a.RLock()
	defer a.RUnlock()
	return f(a), true
}

// Find is View of the thread get finds (nil: none), as info says it.
func Find[A Locker, T comparable, I any](as *Accounts[A], key string, get func(a A) T, info func(T) I) (i I, ok bool) {
	View(as, key, func(a A) bool {
		var zero T
		if t := get(a); t != zero {
			i, ok = info(t), true
		}
		return ok
	})
	return i, ok
}

// Must is v, or a panic on err: a mistake in the test.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Index keeps an inbox's threads in a provider's list order, by a number and an id; new keys
// are mostly the largest, so a move is mostly an append.
type Index[K cmp.Ordered, T comparable] struct {
	Key   func(T) (int64, K)
	items []T
}

// Items are the items in order, the index's own slice: read it under the lock, never modify it.
func (x *Index[K, T]) Items() []T { return x.items }

// Len is the number of items.
func (x *Index[K, T]) Len() int { return len(x.items) }

// At is the i-th item.
func (x *Index[K, T]) At(i int) T { return x.items[i] }

// Search is the position of the first item whose key is at least (n, id).
func (x *Index[K, T]) Search(n int64, id K) int {
	i, _ := slices.BinarySearchFunc(x.items, 0, func(t T, _ int) int {
		tn, tid := x.Key(t)
		return cmp.Or(cmp.Compare(tn, n), cmp.Compare(tid, id))
	})
	return i
}

// After is the position of the first item whose key is more than (n, id).
func (x *Index[K, T]) After(n int64, id K) int {
	i := x.Search(n, id)
	if i < len(x.items) {
		if tn, tid := x.Key(x.items[i]); tn == n && tid == id {
			i++
		}
	}
	return i
}

// Insert puts t at its place.
func (x *Index[K, T]) Insert(t T) {
	x.items = slices.Insert(x.items, x.Search(x.Key(t)), t)
}

// Remove takes t out, found at its key, and reports whether it was in.
func (x *Index[K, T]) Remove(t T) bool {
	if i := x.Search(x.Key(t)); i < len(x.items) && x.items[i] == t {
		x.items = slices.Delete(x.items, i, i+1)
		return true
	}
	return false
}

// Move changes t's key, keeping t in order if it is in the index (seeding adds in bulk).
func (x *Index[K, T]) Move(t T, change func()) {
	in := x.Remove(t)
	change()
	if in {
		x.Insert(t)
	}
}

// Append adds items at the end, for seeding: Sort before reading.
func (x *Index[K, T]) Append(items ...T) { x.items = append(x.items, items...) }

// Sort orders the index after Append, in one linear pass when the items came in order.
func (x *Index[K, T]) Sort() {
	c := func(a, b T) int {
		an, aid := x.Key(a)
		bn, bid := x.Key(b)
		return cmp.Or(cmp.Compare(an, bn), cmp.Compare(aid, bid))
	}
	if !slices.IsSortedFunc(x.items, c) {
		slices.SortFunc(x.items, c)
	}
}

// Set adds, removes and picks a member in O(1): the threads awaiting a reply, which live traffic answers.
type Set[T comparable] struct {
	items []T
	pos   map[T]int
}

// Put adds t when in, and removes it otherwise.
func (s *Set[T]) Put(t T, in bool) {
	i, ok := s.pos[t]
	switch {
	case in && !ok:
		if s.pos == nil {
			s.pos = map[T]int{}
		}
		s.pos[t] = len(s.items)
		s.items = append(s.items, t)
	case !in && ok:
		last := s.items[len(s.items)-1]
		s.items[i] = last
		s.pos[last] = i
		var zero T
		s.items[len(s.items)-1] = zero
		s.items = s.items[:len(s.items)-1]
		delete(s.pos, t)
	}
}

// Len is the number of members.
func (s *Set[T]) Len() int { return len(s.items) }

// At is the i-th member, in no particular order.
func (s *Set[T]) At(i int) T { return s.items[i] }

// Map is f of every item, never nil.
func Map[T, R any](items []T, f func(T) R) []R {
	out := make([]R, len(items))
	for i, t := range items {
		out[i] = f(t)
	}
	return out
}

// Page is the offset/limit window of items, from the end when back; never nil.
func Page[T any](items []T, offset, limit int, back bool) []T {
	n := len(items)
	lo := min(max(offset, 0), n)
	hi := lo + min(max(limit, 0), n-lo)
	out := make([]T, 0, hi-lo)
	for k := lo; k < hi; k++ {
		out = append(out, items[If(back, n-1-k, k)])
	}
	return out
}

// Scan is a keyset page: up to limit items that match, from the first (or last), and more.
func Scan[T any](items []T, back bool, limit int, match func(T) bool) (rows []T, more bool) {
	rows = make([]T, 0, min(limit, len(items)))
	for k := range items {
		t := items[If(back, len(items)-1-k, k)]
		if !match(t) {
			continue
		}
		if len(rows) == limit {
			return rows, true
		}
		rows = append(rows, t)
	}
	return rows, false
}

// Intern is m[k], made by make and kept when absent.
func Intern[K comparable, V any](m map[K]V, k K, make func() V) V {
	v, ok := m[k]
	if !ok {
		v = make()
		m[k] = v
	}
	return v
}
