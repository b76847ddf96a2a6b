// Package hubspotsim simulates what threadsync reads of the HubSpot
// Conversations API v3 (the thread list, a thread's messages, a message's
// original content; hubspot.md), for developing, testing and benchmarking
// the HubSpot poller without a HubSpot account. The thread list pages with
// an opaque after cursor, in id order or by (latestMessageTimestamp, id)
// from latestMessageTimestampAfter (inclusive); every entry moves a thread
// behind any cursor, so a walk skips none. What HubSpot leaves vague (the
// limit cap, comments moving latestMessageTimestamp, the original-content
// body) is chosen here and marked so.
package hubspotsim
