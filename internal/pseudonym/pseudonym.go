// Package pseudonym turns a person's IIN into a stable pseudonym for logs.
//
// Logs are read by more people, and kept in more places, than the event log.
// They must let an operator follow one person through a session without
// naming them: a keyed hash (HMAC-SHA256 with a secret the server keeps in
// its data directory) gives the same short id for the same IIN, and without
// the key nobody can run the few billion possible IINs through it to find
// the person.
package pseudonym

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// Prefix starts every pseudonym, so that a reader of a log line knows what
// they are looking at.
const Prefix = "p:"

// Key makes pseudonyms. The zero Key is not usable; make one with New or
// Random.
type Key struct{ secret []byte }

// New returns a Key over secret (at least 32 bytes of randomness; the
// server keeps it in data_dir/log.secret).
func New(secret []byte) *Key { return &Key{secret: append([]byte(nil), secret...)} }

// Random returns a Key with a fresh random secret: pseudonyms that hold
// within one process only, for tests and for a server given no secret.
func Random() *Key {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return &Key{secret: b}
}

// Person returns the pseudonym of an IIN: "p:" and the first 16 hex digits
// (64 bits) of HMAC-SHA256(secret, IIN).
func (k *Key) Person(iin string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(iin))
	return Prefix + hex.EncodeToString(m.Sum(nil))[:16]
}
