// Package actors runs Senim's live state as hollywood actors: one act actor
// per notarial act, a router that spawns them on demand, the desk that
// queues calls for notaries, one operator actor per notary and one session
// actor per websocket connection.
//
// An actor here is a thin shell around the pure core in domain/act: it
// rebuilds its state by replaying the act's event log when it starts, and for
// each command it decides, appends durably, applies and publishes. Messages
// between actors are plain data (strings, numbers, JSON), so that they can
// become protobuf when the cluster spans nodes.
//
// hollywood v1.0.5 has two properties this package is built around. Inboxes
// are unbounded, so admission control happens before a message is sent (the
// gateway's per-connection in-flight limit). And once an actor has panicked
// more than MaxRestarts times, v1.0.5 calls a nil function and the whole
// process dies; so every actor runs behind Recover, which turns a panic into
// an error reply and never lets it reach the engine.
package actors
