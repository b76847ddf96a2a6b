// Package sim is the simulator kit: what the provider simulators share, so
// that each keeps only its wire format and its API's quirks.
//
// A provider's Server embeds a Kit (kit.go), which serves its routes and
// runs every authenticated request through one chain: the endpoint's
// counter, one-shot faults (Fault, InjectFault), sustained faults (Rule,
// Schedule, SetSchedule), the provider's rate limit (Throttle, a Bucket or
// its own Limiter), then the handler. The Kit keeps the counters behind the
// provider's Stats and drives live traffic (Live, Step). Accounts registers
// the accounts and the credentials that open them, and Edit, View and
// Lookup reach an account's inbox under its lock; Index and Set are the
// inbox's list order and its threads awaiting a reply; Stamps hands out
// event times; Seed lays out seeded history.
//
// The provider describes its endpoints, error bodies and counters to the
// Kit (API), authenticates requests (Endpoint) and implements Inbox, the
// provider-independent face that pollerstest's harness and providersim
// drive: with the Kit's Controls it makes a Simulator.
//
// Everything here is the same logic in every simulator; what differs
// between providers (error bodies, header names, auth, list orders) stays
// in the provider's simulator and reaches these pieces as a parameter or a
// callback.
package sim
