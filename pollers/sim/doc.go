// Package sim holds the building blocks the provider simulators share: the
// queue of injected faults and how a fault is answered, the schedule of
// sustained faults that also watches how a client behaves, the token bucket
// behind their rate limits, strictly increasing event times, the pacing of
// seeded history and live traffic, JSON responses, reproducible ids and a
// clock tests set by hand.
//
// Everything here is the same logic in every simulator; what differs
// between providers (error bodies, header names, auth, list orders) stays
// in the provider's simulator and reaches these pieces as a parameter or a
// callback.
package sim
