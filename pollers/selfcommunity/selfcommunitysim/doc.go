// Package selfcommunitysim simulates the private-message API of a
// SelfCommunity community (GET /api/v2/pm/ for the thread snippets and for
// the messages of one thread, GET /api/v2/pm/{id}/ for one message, POST
// /api/v2/pm/ to send) closely enough that the SelfCommunity poller can be
// developed, tested and benchmarked without a community.
//
// A Server is an http.Handler serving the routes relative to its root, so an
// httptest.Server URL, or any path prefix stripped with http.StripPrefix, is a
// valid base URL. Tests shape the community through the Go API (AddAccount,
// AddThread, AddMessage, Seed, HideThread), read the ground truth back
// (Threads), and provoke the failures a poller must survive: 401 on a missing
// or wrong Bearer token, 429 with Retry-After and DRF's "Request was throttled"
// body above Config.RequestsPerSecond, and injected faults (InjectFault) such
// as 5xx answers, malformed JSON or a page whose next link points to another
// host. Sustained faults (SetSchedule) answer every Nth request of an account,
// on every endpoint: an error, a slow answer, a reset connection or a body cut
// short; ScheduleStats tells what the client did meanwhile (requests at once,
// requests sooner than Retry-After). Traffic keeps an inbox moving for demos.
//
// What the simulator guarantees, because pollers rely on it:
//   - One community, many users; each account is a user with a Bearer token,
//     and every call acts as that user. A thread has two participants and
//     shows in the inbox of each one that is an account, with opposite
//     directions; threads come into existence with their first message.
//   - The snippet list is ordered newest last_message_at first (then higher
//     id first) and paged by DRF limit/offset: {count, next, previous,
//     results}, next and previous absolute URLs built from the request URL
//     with limit and offset replaced and the query keys sorted, next null on
//     the last page, previous without offset when it would be 0. A new
//     message moves its thread to the front, so offset pages shift under a
//     walk, as they do on a real community.
//   - Messages of a thread (thread=, or user= for the 1:1 thread with that
//     user) are ordered by id, oldest first unless Config.MessagesNewestFirst;
//     from_message is inclusive, before_message exclusive, and limit/offset
//     apply after them. Ids grow with time across the community.
//   - A limit that is not a positive integer falls back to
//     Config.DefaultLimit and one above Config.MaxLimit is clamped, as DRF
//     does; a bad offset counts as 0.
//   - Times are ISO 8601 with microseconds (left out when zero, as Python's
//     isoformat does) and the offset of Config.Location, "Z" for UTC.
//   - thread_status is "new" for a user while the thread has messages that
//     user has not fetched or written, "seen" otherwise.
//
// Every method is safe for concurrent use while the server is serving. A
// snippet page costs O(limit) and a message page O(log n + limit).
//
// Behaviour the documentation leaves open is chosen here and marked as such
// in the comments (error bodies, limits, message order, 404 for a thread the
// user does not take part in, follows not being checked on send).
package selfcommunitysim
