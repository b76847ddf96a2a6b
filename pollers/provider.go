package pollers

import (
	"context"
	"net/http"
	"time"

	"github.com/threadsync/threadsync/events"
)

// Provider reads one account's inbox on one provider API. It knows the API's
// requests, pagination and mapping; everything shared (walking, diffing,
// retries, rate limits, publishing, committing) lives in the Engine.
type Provider interface {
	// Features says what the provider's API can do.
	Features() Features
	// ListThreads returns one page of the thread list.
	ListThreads(ctx context.Context, q Query) (Page, error)
	// Messages returns the messages of a thread, oldest first. With
	// Features.MessageCursor it may return only the messages after the
	// cursor; otherwise it returns them all and the engine keeps the new ones.
	// An error wrapping ErrThreadGone says the listed thread has no
	// messages to read now. Messages may fill t.Thread's fields the list
	// left out; it must not change t.Version, which is the list's word.
	Messages(ctx context.Context, t *Item, after MessageCursor) ([]events.Message, error)
}

// Factory makes the Provider of an account. The client carries the engine's
// timeouts; providers send every request through it.
type Factory func(a Account, client *http.Client) (Provider, error)

// Features declares what a provider's API can and cannot do, so the engine and
// the conformance suite do the right thing for each.
type Features struct {
	// IncrementalList: ListThreads honours Query.Since and returns only the
	// threads updated at or after it. Without it every walk is a full scan.
	IncrementalList bool
	// Overlap is how far behind the highest update time seen a walk starts
	// again, so that equal timestamps and late writes are not lost.
	Overlap time.Duration
	// MessageCursor: Messages returns only the messages after the cursor.
	MessageCursor bool
	// ReplyNeededStated: the API states when a reply is needed
	// (Item.ReplyNeededSince is authoritative); otherwise the engine derives
	// it from message directions.
	ReplyNeededStated bool
	// OffsetPagination: pages are offsets into a list that reorders as
	// threads change, so a thread moving during a walk can shift another
	// past it. The engine walks again when it sees a thread twice in one
	// walk (or the provider flags Page.Drift).
	OffsetPagination bool
	// RequestsPerSecond is the default request rate per account.
	RequestsPerSecond float64
}

// Walk says why the engine walks the thread list; providers may use it to
// choose how much to ask for per page.
type Walk int

const (
	// WalkInitial is the first walk of an account: every thread is new.
	WalkInitial Walk = iota
	// WalkIncremental walks from the watermark: most threads have changed.
	WalkIncremental
	// WalkSweep re-reads the whole list to reconcile: most threads are unchanged.
	WalkSweep
)

// Query asks for one page of the thread list.
type Query struct {
	// Since, when not zero, asks for threads updated at or after it
	// (providers with IncrementalList only).
	Since time.Time
	// Token continues a walk: the Next of the previous page. Empty for the first page.
	Token string
	// State is the State of the previous page of this walk; empty for the
	// first page, and for the page a resumed walk starts with.
	State string
	Walk  Walk
}

// Page is one page of the thread list.
type Page struct {
	Items []Item
	// Next continues the walk; empty on the last page.
	Next string
	// State is what the provider wants to know when it reads the next page
	// (say, the list's total count, to tell that the list moved under the
	// walk): the engine hands it back as Query.State. It is not kept across
	// restarts, so a provider must read an empty State as "unknown".
	State string
	// Drift says the list changed under the walk in a way that may have
	// made it skip a thread (say, its total count changed); the engine
	// walks again.
	Drift bool

	// same is set by the engine on a page it skips (samepage.go); key and
	// digest on a page read in full that it may remember.
	same   *samePage
	key    pageKey
	digest *digest
}

// Item is one thread as the thread list shows it.
type Item struct {
	Thread events.Thread
	// Version changes whenever the thread gains messages or its reply state
	// changes; the engine fetches messages only when it differs from the
	// stored one.
	Version string
	// UpdatedAt is the provider's last-modification time, the incremental watermark.
	UpdatedAt time.Time
	// LastMessageAt is the time of the newest message, when the list says it.
	LastMessageAt time.Time
	// ReplyNeededSince is the provider's own reply-needed flag
	// (Features.ReplyNeededStated); nil when no reply is needed.
	ReplyNeededSince *time.Time
	// Closed says the thread needs no reply whatever its messages say (a
	// conversation closed by the owner): it ends an open reply-needed
	// episode, so the next inbound message opens a new one. Put what it
	// depends on into Version.
	Closed bool
	// Messages are messages included in the list, oldest first; with
	// MessagesComplete they are all of the thread's messages, otherwise
	// the newest ones only.
	Messages         []events.Message
	MessagesComplete bool
	// Ref is provider-private data the provider wants back in Messages.
	Ref string
}

// MessageCursor is the newest message already seen in a thread.
type MessageCursor struct {
	ID string
	At time.Time
}

// RetryHinter is implemented by providers whose refusals say how long to
// wait in more than Retry-After: a throttling message in the body, or a
// policy that resets at a known time (a daily allowance). The engine asks
// it about every 429, 408 and 5xx before deciding how long the account waits.
type RetryHinter interface {
	// RetryAfter returns the wait the refusal asks for, or zero when it
	// says nothing beyond its headers (e.RetryAfter holds Retry-After).
	RetryAfter(e *HTTPError) time.Duration
}

// DailyResetter is implemented by providers whose daily allowance resets
// at a time of their own (midnight in the account's time zone), so the
// engine spreads what is left of it until then; without it the engine
// assumes midnight UTC.
type DailyResetter interface {
	DailyReset(now time.Time) time.Time
}
