package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
	// Version is the provider's change marker of the thread
	// (pollers.Item.Version). Read from the store, a long one is its
	// digest: SameVersion compares either with a marker.
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

// A thread state is stored in a compact binary form, since a deployment
// keeps one per thread (a million for ten thousand accounts): a form byte,
// a bit set of the fields present, then those fields, with lengths and
// times as varints. The version is kept whole when short and as a digest
// otherwise, since polls only ask whether it changed. A value this small
// also keeps an account's hash of under 128 threads in Redis' listpack
// encoding. States written as JSON by earlier releases still read.
const stateForm = 1

// The fields of a stored state, as bits of its bit set.
const (
	fVersion = 1 << iota
	fVersionDigest
	fMsgAt
	fMsgIDs
	fMsgIDsLast // MsgIDs is [LastMsgID]
	fLastMsgID
	fReplySince
	fReplySinceMsgAt // ReplySince equals MsgAt
	fLastInbound
	fLastInboundLast // LastInbound equals LastMsgID
	fQuiet
	fPolicy
	fDueAt
	fWarnAt
	fWarned
	fBreached
	fSkipped
)

// digestMark starts the stored form of a long version: the mark and the
// first 8 bytes of its SHA-256.
const digestMark = "\x01"

func versionDigest(v string) string {
	sum := sha256.Sum256([]byte(v))
	return digestMark + string(sum[:8])
}

// SameVersion reports whether the thread's version is v: the provider's
// change marker itself, or its digest in a state read from the store.
func (s *ThreadState) SameVersion(v string) bool {
	if s.Version == v {
		return true
	}
	return len(s.Version) == len(digestMark)+8 && s.Version[:len(digestMark)] == digestMark && len(v) > 8 && s.Version == versionDigest(v)
}

func (s *ThreadState) marshal() ([]byte, error) {
	var bits uint64
	set := func(f uint64, on bool) {
		if on {
			bits |= f
		}
	}
	version := s.Version
	switch {
	case len(version) == len(digestMark)+8 && version[:len(digestMark)] == digestMark:
		bits |= fVersionDigest // read back from the store: a digest already
		version = version[len(digestMark):]
	case len(version) > 8:
		bits |= fVersionDigest
		version = versionDigest(version)[len(digestMark):]
	case version != "":
		bits |= fVersion
	}
	set(fMsgAt, !s.MsgAt.IsZero())
	lastOnly := len(s.MsgIDs) == 1 && s.MsgIDs[0] == s.LastMsgID
	set(fMsgIDsLast, lastOnly)
	set(fMsgIDs, s.MsgIDs != nil && !lastOnly)
	set(fLastMsgID, s.LastMsgID != "")
	sameReply := !s.ReplySince.IsZero() && s.ReplySince.Equal(s.MsgAt)
	set(fReplySinceMsgAt, sameReply)
	set(fReplySince, !s.ReplySince.IsZero() && !sameReply)
	sameInbound := s.LastInbound != "" && s.LastInbound == s.LastMsgID
	set(fLastInboundLast, sameInbound)
	set(fLastInbound, s.LastInbound != "" && !sameInbound)
	set(fQuiet, s.Quiet)
	set(fPolicy, s.Policy != "")
	set(fDueAt, !s.DueAt.IsZero())
	set(fWarnAt, !s.WarnAt.IsZero())
	set(fWarned, s.Warned)
	set(fBreached, s.Breached)
	set(fSkipped, s.Skipped != nil)

	b := make([]byte, 0, 48+len(version)+len(s.LastMsgID)+len(s.LastInbound))
	b = append(b, stateForm)
	b = binary.AppendUvarint(b, bits)
	if bits&(fVersion|fVersionDigest) != 0 {
		b = appendString(b, version)
	}
	if bits&fMsgAt != 0 {
		b = appendTime(b, s.MsgAt)
	}
	if bits&fMsgIDs != 0 {
		b = appendStrings(b, s.MsgIDs)
	}
	if bits&fLastMsgID != 0 {
		b = appendString(b, s.LastMsgID)
	}
	if bits&fReplySince != 0 {
		b = appendTime(b, s.ReplySince)
	}
	if bits&fLastInbound != 0 {
		b = appendString(b, s.LastInbound)
	}
	if bits&fPolicy != 0 {
		b = appendString(b, s.Policy)
	}
	if bits&fDueAt != 0 {
		b = appendTime(b, s.DueAt)
	}
	if bits&fWarnAt != 0 {
		b = appendTime(b, s.WarnAt)
	}
	if bits&fSkipped != 0 {
		b = appendTime(b, s.Skipped.MsgAt)
		b = appendStrings(b, s.Skipped.MsgIDs)
	}
	return b, nil
}

// appendTime appends t as a varint: Unix milliseconds, shifted left with
// the low bit set, when t is a whole millisecond (as providers' times
// are), else Unix nanoseconds shifted left; 0, which neither form
// gives, is the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	n := t.UnixNano()
	if n%int64(time.Millisecond) == 0 {
		return binary.AppendVarint(b, n/int64(time.Millisecond)<<1|1)
	}
	return binary.AppendVarint(b, n<<1)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendStrings appends a list as its length plus one, then its strings;
// 0 is nil, which means something else than an empty list.
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(ss))+1)
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// stateReader reads a stored state's fields in order; the first fault
// sticks.
type stateReader struct {
	b   []byte
	err error
}

var errShortState = errors.New("decode thread state: cut short")

func (r *stateReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) time() time.Time {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return time.Time{}
	}
	r.b = r.b[n:]
	if v == 0 {
		return time.Time{}
	}
	if v&1 == 1 {
		ms := v >> 1
		if ms > math.MaxInt64/int64(time.Millisecond) || ms < math.MinInt64/int64(time.Millisecond) {
			r.fail() // not a time a state holds: beyond Unix nanoseconds
			return time.Time{}
		}
		return time.UnixMilli(ms).UTC()
	}
	return time.Unix(0, v>>1).UTC()
}

func (r *stateReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *stateReader) strings() []string {
	n := r.uvarint()
	if n == 0 {
		return nil
	}
	n--
	if n > uint64(len(r.b)) { // every string takes a byte at least
		r.fail()
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}

func (r *stateReader) fail() {
	if r.err == nil {
		r.err = errShortState
	}
	r.b = nil
}

func unmarshalState(b []byte) (*ThreadState, error) {
	if len(b) > 0 && b[0] == '{' {
		return unmarshalStateJSON(b)
	}
	if len(b) == 0 || b[0] != stateForm {
		return nil, fmt.Errorf("decode thread state: unknown form %q", b[:min(len(b), 1)])
	}
	r := &stateReader{b: b[1:]}
	bits := r.uvarint()
	if bits >= fSkipped<<1 {
		return nil, fmt.Errorf("decode thread state: unknown fields %#x", bits)
	}
	if bits&fVersion != 0 && bits&fVersionDigest != 0 {
		return nil, errors.New("decode thread state: a version both whole and digested")
	}
	s := &ThreadState{}
	if bits&fVersion != 0 {
		if s.Version = r.string(); len(s.Version) > 8 {
			return nil, errors.New("decode thread state: a long version kept whole")
		}
	}
	if bits&fVersionDigest != 0 {
		if d := r.string(); len(d) == 8 {
			s.Version = digestMark + d
		} else if r.err == nil {
			return nil, fmt.Errorf("decode thread state: a version digest of %d bytes", len(d))
		}
	}
	if bits&fMsgAt != 0 {
		s.MsgAt = r.time()
	}
	if bits&fMsgIDs != 0 {
		s.MsgIDs = r.strings()
	}
	if bits&fLastMsgID != 0 {
		s.LastMsgID = r.string()
	}
	if bits&fMsgIDsLast != 0 {
		s.MsgIDs = []string{s.LastMsgID}
	}
	if bits&fReplySince != 0 {
		s.ReplySince = r.time()
	}
	if bits&fReplySinceMsgAt != 0 {
		s.ReplySince = s.MsgAt
	}
	if bits&fLastInbound != 0 {
		s.LastInbound = r.string()
	}
	if bits&fLastInboundLast != 0 {
		s.LastInbound = s.LastMsgID
	}
	s.Quiet, s.Warned, s.Breached = bits&fQuiet != 0, bits&fWarned != 0, bits&fBreached != 0
	if bits&fPolicy != 0 {
		s.Policy = r.string()
	}
	if bits&fDueAt != 0 {
		s.DueAt = r.time()
	}
	if bits&fWarnAt != 0 {
		s.WarnAt = r.time()
	}
	if bits&fSkipped != 0 {
		s.Skipped = &Skipped{MsgAt: r.time(), MsgIDs: r.strings()}
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("decode thread state: %d bytes left over", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// stateJSON is the JSON form thread states had before the binary one.
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

func unmarshalStateJSON(b []byte) (*ThreadState, error) {
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
