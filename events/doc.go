// Package events defines what threadsync tells the world: the normalized thread
// and message types, the CloudEvents 1.0 envelope they travel in, the NATS
// subjects they are published on, their deterministic ids, and the JetStream
// publisher that delivers them with at-least-once semantics and server-side
// de-duplication.
//
// The same fact always yields the same event id, so a page that is derived
// again after a crash is dropped by JetStream's duplicate window instead of
// reaching consumers twice.
package events
