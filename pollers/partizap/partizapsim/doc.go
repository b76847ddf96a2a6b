// Package partizapsim simulates the vendor side of the Partizap
// marketplace API (conversations, their assumed message list, sending,
// search; partizap.md), for developing, testing and benchmarking the
// Partizap poller without a Partizap account. It does exactly what
// partizap.md confirms (cursor and limit paging in {"data", "meta"}, the
// fields, cookie auth with X-CSRF-TOKEN on writes, q of 2 characters) and
// chooses, each open to Config, what it only infers: newest activity first
// with a keyset cursor, so a walk lists no conversation twice, Moscow
// times to the second, numeric ids, Laravel error bodies.
package partizapsim
