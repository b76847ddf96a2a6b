// Package partizapsim simulates the vendor side of the Partizap marketplace
// API — the conversation list, the (assumed) message list of a conversation,
// sending text and image messages, and message search — closely enough that
// the Partizap poller can be developed, tested and benchmarked without a
// Partizap account.
//
// A Server is an http.Handler serving the routes relative to its root, so an
// httptest.Server URL, or any path prefix stripped with http.StripPrefix, is a
// valid Partizap base URL. Tests shape the inbox through the Go API (AddVendor,
// AddThread, AddMessage, MarkRead, Seed), read the ground truth back (Threads),
// and provoke the failures a poller must survive: 401 without a valid
// PARTIZAP_SESSION cookie, 429 with Retry-After above Config.RequestsPerSecond,
// 419 on a CSRF mismatch, and injected faults (InjectFault) such as 5xx answers
// or malformed JSON. Sustained faults (SetSchedule) answer every Nth request of
// an account, on every endpoint: an error, a slow answer, a reset connection or
// a body cut short; ScheduleStats tells what the client did meanwhile (requests
// at once, requests sooner than Retry-After). Traffic keeps an inbox moving for
// demos and benchmarks.
//
// What partizap.md confirms, and the simulator does exactly:
//   - GET /vendor/conversations takes cursor (opaque) and limit (1–100,
//     default 20) and answers {"data": [...], "meta": {"has_more",
//     "next_cursor"}}; next_cursor is null on the last page.
//   - Conversations carry id, product_id, product (with its seller),
//     participants, last_message (null while empty), unread_count,
//     created_at and updated_at; messages carry id, conversation_id,
//     sender_id, text, image_url, is_read, is_delivered, created_at; rating is
//     a decimal string and price an integer.
//   - Authentication is the PARTIZAP_SESSION cookie; writes also need an
//     X-CSRF-TOKEN header equal to the CSRF_TOKEN cookie.
//   - Search wants q of at least 2 characters.
//
// What it chooses where partizap.md only infers (each configurable in Config):
//   - Conversations are listed newest activity first, by (updated_at, id)
//     descending, and the cursor is a keyset position (the last row's
//     updated_at and id). So a conversation that changes during a walk jumps
//     ahead of the cursor and is not listed again in that walk; nothing else
//     moves, and a walk never lists a conversation twice. Config.Order and
//     Config.OffsetCursor give the other plausible behaviours, including the
//     one where a walk can skip a conversation (offset cursor, oldest first).
//   - GET /vendor/conversations/{id}/messages exists (Config.MessagesPath
//     moves it, Config.NoMessagesEndpoint removes it), takes cursor and limit
//     (default 50, at most 100) and lists newest first (Config.MessagesOrder).
//   - Times are RFC 3339 with the Moscow offset, to the second
//     (Config.TimeLayout, Config.Location); ids are JSON numbers
//     (Config.IDsAsStrings).
//   - Errors are Laravel-style {"message": "..."} bodies, with "errors" per
//     field on 422; unknown conversations answer 404.
//   - Reading a conversation (MarkRead) resets unread_count and moves
//     updated_at, as any write to the conversation row would.
//
// Every method is safe for concurrent use while the server is serving. Each
// vendor has its own lock; a conversation page costs O(log n + limit).
package partizapsim
