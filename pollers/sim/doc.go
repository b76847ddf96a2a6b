// Package sim is the simulator kit: what the provider simulators share, so
// that each keeps only its wire format and its API's quirks. A provider's
// Server embeds a Kit, which runs every authenticated request through one
// chain (count, one-shot fault, sustained faults, rate limit, handler);
// Accounts, Index, Set and Stamps are its inboxes' state; Seed, Script and
// Run make history and traffic; with the provider's Inbox, the Kit's
// Controls make the Simulator that pollerstest and providersim drive.
package sim
