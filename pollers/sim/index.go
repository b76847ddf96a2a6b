package sim

import (
	"cmp"
	"slices"
)

// Index keeps a simulated inbox's threads in the order a provider lists
// them: by a number (a time as UnixNano, an activity sequence), then an
// id. New keys are usually the largest, so moving a thread is mostly an
// append, and the removal a memmove of the tail, which stays cheap for
// tens of thousands of threads; a page is a binary search and a slice.
// It is not safe for concurrent use (the inbox's lock guards it).
type Index[K cmp.Ordered, T comparable] struct {
	// Key is an item's place: the number first, then the id.
	Key   func(T) (int64, K)
	items []T
}

// Items are the items in order. The slice is the index's own: read it
// under the inbox's lock and do not modify it.
func (x *Index[K, T]) Items() []T { return x.items }

// Len is the number of items.
func (x *Index[K, T]) Len() int { return len(x.items) }

// At is the i-th item.
func (x *Index[K, T]) At(i int) T { return x.items[i] }

// Search returns the position of the first item whose key is at least
// (n, id).
func (x *Index[K, T]) Search(n int64, id K) int {
	i, _ := slices.BinarySearchFunc(x.items, 0, func(t T, _ int) int {
		tn, tid := x.Key(t)
		return cmp.Or(cmp.Compare(tn, n), cmp.Compare(tid, id))
	})
	return i
}

// From returns the position of the first item whose number is at least n.
func (x *Index[K, T]) From(n int64) int {
	i, _ := slices.BinarySearchFunc(x.items, n, func(t T, n int64) int {
		tn, _ := x.Key(t)
		return cmp.Compare(tn, n)
	})
	return i
}

// After returns the position of the first item whose key is more than
// (n, id).
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

// Remove takes t out, found at its key: change the key after Remove, and
// Insert the item again.
func (x *Index[K, T]) Remove(t T) {
	if i := x.Search(x.Key(t)); i < len(x.items) && x.items[i] == t {
		x.items = slices.Delete(x.items, i, i+1)
	}
}

// Append adds items at the end, out of order maybe, for seeding: call
// Sort before the index is read again.
func (x *Index[K, T]) Append(items ...T) { x.items = append(x.items, items...) }

// Sort orders the index after Append, in one linear pass when the items
// came in order.
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

// Set is a set that adds, removes and picks a random member in O(1): an
// inbox's threads awaiting a reply, from which live traffic picks one to
// answer. It is not safe for concurrent use; the zero value is empty.
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

// Has reports whether t is in the set.
func (s *Set[T]) Has(t T) bool {
	_, ok := s.pos[t]
	return ok
}

// Len is the number of members.
func (s *Set[T]) Len() int { return len(s.items) }

// At is the i-th member, in no particular order.
func (s *Set[T]) At(i int) T { return s.items[i] }
