// Package hubspotsim simulates the parts of the HubSpot Conversations API
// v3 that threadsync reads (the thread list, a thread's messages and a
// message's original content) closely enough that the HubSpot poller can
// be developed, tested and benchmarked without a HubSpot account.
//
// A Server is an http.Handler serving the routes relative to its root, so an
// httptest.Server URL, or any path prefix stripped with http.StripPrefix, is a
// valid HubSpot base URL. Tests shape inboxes through the Go API (AddAccount,
// AddThread, AddMessage, AddComment, SetStatus, SetArchived, Seed), read the
// ground truth back (Threads), and provoke the failures a poller must survive:
// 401 on missing or wrong Bearer tokens, 403 for a token without
// conversations.read, 429 with policyName TEN_SECONDLY_ROLLING above
// Config.RequestsPerSecond and DAILY above Config.DailyLimit (with the
// X-HubSpot-RateLimit-* headers), and injected faults (InjectFault) such as 5xx
// answers or malformed JSON. Sustained faults (SetSchedule) answer every Nth
// request of an account, on every endpoint: an error, a slow answer, a reset
// connection or a body cut short; ScheduleStats tells what the client did
// meanwhile (requests at once, requests sooner than Retry-After). Traffic keeps
// an inbox moving for demos.
//
// What the simulator guarantees, because pollers rely on it:
//   - GET /conversations/v3/conversations/threads pages with an opaque
//     `after` cursor and leaves `paging` out on the last page. Threads come
//     in id order by default, or by (latestMessageTimestamp, id) with
//     sort=latestMessageTimestamp, which requires
//     latestMessageTimestampAfter (inclusive). Every new entry gives the
//     thread a latestMessageTimestamp later than any before, so a thread
//     that gains a message during a walk moves behind the cursor and is
//     returned again later in the same walk; none is skipped. The cursor
//     holds the position only: the client repeats the other parameters.
//   - The validation rules of hubspot.md §2.1 answer 400 with HubSpot's
//     error body: descending sorts only with associatedContactId, which
//     needs threadStatus and excludes inboxId. limit defaults to 100 and is
//     capped at 500 (the cap is this simulator's choice).
//   - Archived threads are listed only with archived=true, and then only
//     they are. association=TICKET adds threadAssociations when the thread
//     has a ticket.
//   - GET .../threads/{id}/messages returns the whole history, every entry
//     type (MESSAGE, COMMENT, WELCOME_MESSAGE), newest first unless
//     sort=createdAt. Only MESSAGE entries carry a direction (INCOMING for
//     Visitor, OUTGOING for Agent) and move latestMessageSentTimestamp or
//     latestMessageReceivedTimestamp; every entry moves
//     latestMessageTimestamp (HubSpot does not say; this is the cautious
//     choice for a poller). A visitor writing in a CLOSED thread reopens it.
//   - Ids are strings: threads numeric text, messages opaque hex. Times are
//     ISO 8601 UTC with Z, to the millisecond.
//   - Each token belongs to one account and sees that account's threads
//     only; the burst window is per token (HubSpot's is per app), the daily
//     allowance per account, reset at midnight in its time zone.
//
// Every method is safe for concurrent use while the server is serving. Each
// account has its own lock; a thread list page costs O(log n + limit) for
// the queries a poller sends, a message page O(limit).
//
// Behaviour HubSpot documents too vaguely to copy is chosen here and marked
// as such in the comments (limit cap, comments moving
// latestMessageTimestamp, the original-content body, 404 bodies).
package hubspotsim
