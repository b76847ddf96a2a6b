// Package selfcommunitysim simulates the private messages of a
// SelfCommunity community (GET /api/v2/pm/ for snippets and a thread's
// messages, GET /api/v2/pm/{id}/, POST /api/v2/pm/; selfcommunity.md), for
// developing, testing and benchmarking the SelfCommunity poller without a
// community. Each account is a user with a Bearer token, and a thread of
// two accounts shows in both inboxes. Snippets come newest first in DRF's
// limit/offset envelope, so a new message shifts offset walks as on a real
// community. What the documentation leaves open (error bodies, limits,
// message order) is chosen here and marked so.
package selfcommunitysim
