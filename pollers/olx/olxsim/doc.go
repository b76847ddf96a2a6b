// Package olxsim simulates the chat part of the OLX Partner API v2 (one
// OLX user's threads and messages per access token; olx.md), for
// developing, testing and benchmarking the OLX poller without OLX, which
// has no sandbox. Lists are offset/limit windows in {"data": [...]}, a
// short page the last; GET /threads lists by last activity, so a new
// message shifts offset walks as on OLX. Times are zone-less wall clock in
// Config.Location. What OLX leaves vague (the order, limits, header error
// codes, error bodies, no Retry-After) is chosen here and marked so.
package olxsim
