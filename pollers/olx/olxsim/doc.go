// Package olxsim simulates the chat part of the OLX Partner API v2 (threads
// and messages of one OLX user per access token) closely enough that the
// OLX poller can be developed, tested and benchmarked without OLX, which has
// no sandbox.
//
// A Server is an http.Handler serving the routes under /api/partner relative to
// its root, so an httptest.Server URL, or any path prefix stripped with
// http.StripPrefix, is a valid OLX base URL. Tests shape the inbox through the
// Go API (AddAccount, AddThread, AddMessage, MarkRead, DeleteThread, Seed),
// read the ground truth back (Threads), and provoke the failures a poller must
// survive: 400 "Missing required header" without "Version: 2.0", 400 on a GET
// carrying a Content-Type, 401 on a missing or unknown bearer token, 429 above
// Config.RequestsPerSecond, and injected faults (InjectFault) such as 5xx
// answers or malformed JSON. Sustained faults (SetSchedule) answer every Nth
// request of an account, on every endpoint: an error, a slow answer, a reset
// connection or a body cut short; ScheduleStats tells what the client did
// meanwhile (requests at once, requests sooner than Retry-After). Traffic keeps
// an inbox moving for demos and benchmarks.
//
// Routes ([C] confirmed by OLX's reference, [3P] seen in client code only):
//
//	GET  /api/partner/threads                          [C] offset, limit, advert_id, interlocutor_id
//	GET  /api/partner/threads/{id}                     [C]
//	GET  /api/partner/threads/{id}/messages            [C] offset, limit
//	GET  /api/partner/threads/{id}/messages/{msg}      [C]
//	POST /api/partner/threads/{id}/messages            [3P] {"text": ..., "attachments": [{"url": ...}]}
//	POST /api/partner/threads/{id}/commands            [3P] mark-as-read, set-favourite, unset-favourite
//
// What the simulator guarantees, because pollers rely on it:
//   - Lists are plain offset/limit windows with no total and no next link,
//     in the {"data": [...]} envelope (a bare array with Config.BareArray).
//     A page shorter than its limit is the last one.
//   - GET /threads lists threads by last activity, newest first: a new
//     message moves its thread to the top and shifts every thread listed
//     before it by one, which is what makes offset walks skip or repeat
//     threads, as they would on OLX.
//   - Times are "YYYY-MM-DD hh:mm:ss" wall-clock times in Config.Location,
//     without a zone, at second precision. Ids are integers that grow.
//   - A message from the interlocutor has type "received" and is unread; a
//     message from the account's user has type "sent" and marks the
//     thread read (unread_count 0), as answering in OLX does.
//   - Each access token belongs to one account and sees its threads only.
//
// Behaviour OLX documents too vaguely to copy is chosen here and marked as
// such in the comments: the list order, the default (50) and maximum (1000)
// limits, 0-based offsets, status codes of header errors, error bodies, the
// absence of Retry-After on 429 (Config.RetryAfter adds one).
//
// Every method is safe for concurrent use while the server is serving. Each
// account has its own lock; an unfiltered list page costs O(limit), moving a
// thread to the top O(log n) plus a memmove.
package olxsim
