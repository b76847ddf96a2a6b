package checkpoint

import (
	"encoding/json"
	"fmt"
	"time"
)

// Cursor is where an account's walk over its thread list stands.
type Cursor struct {
	// Since is where the next incremental walk starts (before overlap).
	Since time.Time
	// High is the highest update time seen by the walk in progress; it
	// becomes Since when the walk completes.
	High time.Time
	// Page continues the walk in progress; empty when none is.
	Page string
	// Walk is the kind of walk in progress (pollers.Walk).
	Walk int
	// Synced is set once the first walk of the account has completed.
	Synced bool
	// LastSweep is when the last full reconciliation walk completed.
	LastSweep time.Time
	// Started is when the walk in progress began (the local clock).
	Started time.Time
	// Open counts the threads whose reply-needed episode, announced with
	// a ReplyNeeded, is still open.
	Open int
	// Recover is set while the account recovers from pages published
	// without their commit: none of them was fetched before it.
	Recover time.Time
	// SilentBefore, when set, makes the account's first walk record
	// silently what happened before it and publish what came after: the
	// account's state was lost, and its events up to then are on the
	// stream already.
	SilentBefore time.Time
	// InitialSync, when set, is what the account's first walk publishes
	// (full or from_now) whatever the accounts file says: a reset asked
	// for it.
	InitialSync string
	// Committed is when the page this cursor follows was made ready to
	// commit (the local clock): the last sign of life of the account's
	// polling.
	Committed time.Time
}

// InWalk reports whether a walk was interrupted and continues from Page.
func (c Cursor) InWalk() bool { return c.Page != "" }

type cursorJSON struct {
	Since     int64  `json:"s,omitempty"`
	High      int64  `json:"h,omitempty"`
	Page      string `json:"p,omitempty"`
	Walk      int    `json:"w,omitempty"`
	Synced    bool   `json:"y,omitempty"`
	LastSweep int64  `json:"l,omitempty"`
	Started   int64  `json:"b,omitempty"`
	Open      int    `json:"o,omitempty"`
	Recover   int64  `json:"r,omitempty"`
	Committed int64  `json:"c,omitempty"`
	Initial   string `json:"i,omitempty"`
	Silent    int64  `json:"q,omitempty"`
}

func (c Cursor) marshal() ([]byte, error) {
	return json.Marshal(cursorJSON{
		Since: nanos(c.Since), High: nanos(c.High), Page: c.Page, Walk: c.Walk,
		Synced: c.Synced, LastSweep: nanos(c.LastSweep), Started: nanos(c.Started), Open: c.Open,
		Recover: nanos(c.Recover), Committed: nanos(c.Committed), Initial: c.InitialSync,
		Silent: nanos(c.SilentBefore),
	})
}

func unmarshalCursor(b []byte) (Cursor, error) {
	var j cursorJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Cursor{}, fmt.Errorf("decode cursor: %w", err)
	}
	return Cursor{
		Since: fromNanos(j.Since), High: fromNanos(j.High), Page: j.Page, Walk: j.Walk,
		Synced: j.Synced, LastSweep: fromNanos(j.LastSweep), Started: fromNanos(j.Started), Open: j.Open,
		Recover: fromNanos(j.Recover), Committed: fromNanos(j.Committed), InitialSync: j.Initial,
		SilentBefore: fromNanos(j.Silent),
	}, nil
}

// ThreadState is what threadsync remembers of one thread between walks.
type ThreadState struct {
	// Version is the provider's change marker of the thread (pollers.Item.Version).
	Version string
	// MsgAt is the time of the newest message seen.
	MsgAt time.Time
	// MsgIDs are the ids of the messages seen at exactly MsgAt; nil means
	// every message at MsgAt counts as seen.
	MsgIDs []string
	// LastMsgID is the id of the newest message seen.
	LastMsgID string
	// ReplySince opens the reply-needed episode in progress; zero when none.
	ReplySince time.Time
	// LastInbound is the id of the newest inbound message seen.
	LastInbound string
	// Quiet marks an episode recorded without a ReplyNeeded (an initial
	// from_now walk): it raises no timers and ends without ReplyResolved.
	Quiet bool
	// Policy, DueAt and WarnAt are the deadlines of the episode in
	// progress when a reply policy applied to it; zero otherwise.
	Policy string
	DueAt  time.Time
	WarnAt time.Time
	// Warned and Breached record that the episode's warning and breach
	// were published (by its timers).
	Warned, Breached bool
	// Skipped is what an initial from_now walk recorded of the thread
	// without publishing it; a backfill publishes that and clears it.
	// Nil for a thread whose history was published.
	Skipped *Skipped
}

// Skipped is the part of a thread's history a from_now start did not
// publish: its ThreadCreated, and the messages seen then, by the rule
// MsgAt and MsgIDs have in a ThreadState.
type Skipped struct {
	MsgAt  time.Time
	MsgIDs []string
}

// Open reports whether an episode announced with ReplyNeeded is in progress.
func (s *ThreadState) Open() bool { return s != nil && !s.ReplySince.IsZero() && !s.Quiet }

type stateJSON struct {
	Version     string       `json:"v,omitempty"`
	MsgAt       int64        `json:"t,omitempty"`
	MsgIDs      []string     `json:"i,omitempty"`
	LastMsgID   string       `json:"m,omitempty"`
	ReplySince  int64        `json:"r,omitempty"`
	LastInbound string       `json:"n,omitempty"`
	Quiet       bool         `json:"q,omitempty"`
	Policy      string       `json:"p,omitempty"`
	DueAt       int64        `json:"d,omitempty"`
	WarnAt      int64        `json:"w,omitempty"`
	Warned      bool         `json:"x,omitempty"`
	Breached    bool         `json:"y,omitempty"`
	Skipped     *skippedJSON `json:"k,omitempty"`
}

type skippedJSON struct {
	MsgAt  int64    `json:"t,omitempty"`
	MsgIDs []string `json:"i"`
}

func (s *ThreadState) marshal() ([]byte, error) {
	var sk *skippedJSON
	if s.Skipped != nil {
		sk = &skippedJSON{MsgAt: nanos(s.Skipped.MsgAt), MsgIDs: s.Skipped.MsgIDs}
	}
	return json.Marshal(stateJSON{
		Skipped: sk,
		Version: s.Version, MsgAt: nanos(s.MsgAt), MsgIDs: s.MsgIDs, LastMsgID: s.LastMsgID,
		ReplySince: nanos(s.ReplySince), LastInbound: s.LastInbound,
		Quiet: s.Quiet, Policy: s.Policy, DueAt: nanos(s.DueAt), WarnAt: nanos(s.WarnAt),
		Warned: s.Warned, Breached: s.Breached,
	})
}

func unmarshalState(b []byte) (*ThreadState, error) {
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("decode thread state: %w", err)
	}
	var sk *Skipped
	if j.Skipped != nil {
		sk = &Skipped{MsgAt: fromNanos(j.Skipped.MsgAt), MsgIDs: j.Skipped.MsgIDs}
	}
	return &ThreadState{
		Skipped: sk,
		Version: j.Version, MsgAt: fromNanos(j.MsgAt), MsgIDs: j.MsgIDs, LastMsgID: j.LastMsgID,
		ReplySince: fromNanos(j.ReplySince), LastInbound: j.LastInbound,
		Quiet: j.Quiet, Policy: j.Policy, DueAt: fromNanos(j.DueAt), WarnAt: fromNanos(j.WarnAt),
		Warned: j.Warned, Breached: j.Breached,
	}, nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
