// Package miraklsim simulates the seller side of the Mirakl inbox API (M10
// thread, M11 thread list, M12 reply) closely enough that the Mirakl poller
// can be developed, tested and benchmarked without a Mirakl instance.
//
// A Server is an http.Handler serving the routes relative to its root, so an
// httptest.Server URL, or any path prefix stripped with http.StripPrefix, is a
// valid Mirakl base URL. Tests shape the inbox through the Go API (AddShop,
// AddThread, AddMessage, Seed), read the ground truth back (Threads), and
// provoke the failures a poller must survive: 401 on bad keys, 429 with
// Retry-After above Config.RequestsPerSecond, and injected faults (InjectFault)
// such as 5xx answers or malformed JSON. Sustained faults (SetSchedule) answer
// every Nth request of an account, on every endpoint: an error, a slow answer,
// a reset connection or a body cut short; ScheduleStats tells what the client
// did meanwhile (requests at once, requests sooner than Retry-After). Traffic
// keeps an inbox moving for demos and benchmarks.
//
// What the simulator guarantees, because pollers rely on it:
//   - M11 orders threads by (date_updated, id) and pages by keyset after the
//     last row returned. Every change gives the thread a date_updated later
//     than any before, so a thread updated during a walk moves behind the
//     cursor and is returned again later in the same walk; none is skipped.
//   - updated_since is inclusive, limit defaults to 50 and may not exceed
//     100, next_page_token is omitted on the last page, and a page_token
//     carries the whole original query, so other parameters sent with it are
//     ignored.
//   - shop_reply_needed_since is the date of the first customer or operator
//     message after the shop's last message (or after the last "no reply
//     needed" action), or the latest such message with
//     Config.ReplyNeededLatest; it is null when the shop has the last word.
//   - Each API key belongs to one shop and sees that shop's threads only.
//
// Every method is safe for concurrent use while the server is serving. Each
// shop has its own lock; a thread list page costs O(log n + limit) for the
// unfiltered queries a poller sends.
//
// Behaviour the real API documents too vaguely to copy is chosen here and
// marked as such in the comments (error bodies, limit above 100, the order
// of M11 results, 403 for a foreign shop_id).
package miraklsim
