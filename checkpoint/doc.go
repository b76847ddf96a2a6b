// Package checkpoint keeps threadsync's memory in Redis: per account, the
// cursor of its walk over the provider's thread list, the state of every
// thread seen, and a lease that lets one worker at a time advance them.
//
// All keys of an account share the hash tag {provider:account}, so the store
// works on Redis Cluster, and a page is committed in one atomic round trip
// that first checks the caller still holds the account's lease.
package checkpoint
