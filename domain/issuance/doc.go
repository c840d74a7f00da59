// Package issuance is the pure core of remote EDS issuance: how a person
// gets NUC keys without visiting a service centre (DOMAIN.md, seeds 002 and
// 003), from the choice of individual or legal entity to the certificates.
//
// Like domain/act it does no I/O, starts no goroutines and reads no clock:
//
//	Decide(state, actor, command, now, rules) ([]Event, error)
//	Apply(state, event) State
//
// The application actor around this core (docs/issuance.md) replays the
// stream issuance/<id> through Apply, and for each command runs Decide,
// appends the events durably, applies and publishes them.
//
// One departure from domain/act: a wrong one-time code is both a fact and a
// refusal. Decide then returns the code_rejected event AND an *Error with
// CodeWrongCode; the shell appends the event (so that the count of wrong
// tries survives a restart) and replies with the error. Every other refusal
// returns no events.
//
// Outside systems enter as facts the shell establishes: the keyed hash of a
// one-time code the shell drew and sent (sms, bmg), uploads it received and
// hashed, liveness and face-match results (faceid), recognised document
// fields (docrecog), parsed and signature-checked PKCS#10 requests, and
// verified CMS approvals (pki). The core checks that the facts fit the
// application and never sees a secret: a one-time code only as its keyed
// hash, a key only as the fingerprint of its public half.
//
// The key-store password rule of the applicant's side is
// pki.ValidateKeyStorePassword; it is not repeated here because the
// password never reaches the server.
package issuance
