package pollers

import (
	"sync/atomic"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// memo keeps the messages a page fetched until the page is committed, so
// that a page whose last fetch fails does not fetch everything again on the
// next attempt. An entry is only reused for the same thread at the same
// Version from the same cursor: Version changes whenever a thread gains
// messages, so the messages fetched then are still all there are. Memory
// is bounded across the engine's accounts; past the bound, fetches are
// simply not kept. Only the account's poll, which holds the runner's lock,
// touches it.
type memo struct {
	budget  *atomic.Int64 // bytes the engine's memos may still take
	entries map[memoKey]memoEntry
}

type memoKey struct {
	thread, version, afterID string
	afterAt                  int64
}

type memoEntry struct {
	msgs []events.Message
	cost int64
}

// memoBytes bounds the fetched messages all accounts keep for retries.
const memoBytes = 64 << 20

func newMemo(budget *atomic.Int64) *memo {
	return &memo{budget: budget}
}

func keyOf(it *Item, after MessageCursor) memoKey {
	return memoKey{thread: it.Thread.ID, version: it.Version, afterID: after.ID, afterAt: after.At.UnixNano()}
}

func (m *memo) get(k memoKey) ([]events.Message, bool) {
	e, ok := m.entries[k]
	return e.msgs, ok
}

func (m *memo) put(k memoKey, msgs []events.Message) {
	if _, ok := m.entries[k]; ok {
		return
	}
	cost := int64(64)
	for i := range msgs {
		cost += int64(160 + len(msgs[i].ID) + len(msgs[i].Text) + len(msgs[i].Sender.ID) + len(msgs[i].Sender.Name) + 64*len(msgs[i].Attachments))
	}
	if m.budget.Add(-cost) < 0 {
		m.budget.Add(cost)
		return
	}
	if m.entries == nil {
		m.entries = map[memoKey]memoEntry{}
	}
	m.entries[k] = memoEntry{msgs: msgs, cost: cost}
}

// forget drops the entries of the given threads, once committed.
func (m *memo) forget(threads map[string]*checkpoint.ThreadState) {
	if len(m.entries) == 0 {
		return
	}
	for k, e := range m.entries {
		if _, ok := threads[k.thread]; ok {
			m.budget.Add(e.cost)
			delete(m.entries, k)
		}
	}
	if len(m.entries) == 0 {
		m.entries = nil // a map keeps its buckets after deletes; idle accounts keep none
	}
}

// clear drops every entry.
func (m *memo) clear() {
	for _, e := range m.entries {
		m.budget.Add(e.cost)
	}
	m.entries = nil
}
