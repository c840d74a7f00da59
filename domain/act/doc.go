// Package act is the pure core of a digital notarial act: a power of
// attorney (доверенность / сенімхат) taken from the client's signed
// application to the notary's signature (DOMAIN.md, steps 1-14).
//
// It does no I/O, starts no goroutines and reads no clock. Two functions
// carry all the rules:
//
//	Decide(state, actor, command, now, rules) ([]Event, error)
//	Apply(state, event) State
//
// Decide validates a command against the state and returns the events it
// produces, or an *Error with a stable code (not_allowed_in_state,
// draft_not_approved, not_paid, bad_iin, …). Apply folds one event into the
// state; it never fails. The act actor around this core loads the state by
// replaying the act's event log through Apply, and for each command runs
// Decide, appends the events durably, applies them and publishes them.
//
// Signatures enter as facts: the shell verifies a CMS (pki) and hands the
// core a Signature with the signer's IIN and the SHA-256 of the signed
// content. The core checks that the right person signed exactly the bytes it
// expects, computed here by ApplicationBytes, ConsentBytes, DraftBytes and
// DocumentBytes, so that what is signed is defined in one place.
package act
