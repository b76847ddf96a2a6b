// Package pollers is threadsync's engine. For every account it walks the
// provider's thread list from the cursor stored in Redis, loads the stored
// state of each page's threads in one round trip, fetches messages only for
// threads that are new or changed, derives events in causal order, publishes
// them and waits for every acknowledgement, and then commits the page's
// states and the cursor in one atomic, lease-fenced round trip.
//
// A Provider (one package per API, such as pollers/mirakl) only knows its
// API's requests, pagination and mapping. Walking, diffing, reply-needed
// episodes, retries of each request in place (Retry-After, the provider's
// hints, backoff with jitter), pacing that learns from 429s and rate-limit
// headers, quotas shared across accounts and replicas, leases and graceful
// shutdown live here, once.
package pollers
