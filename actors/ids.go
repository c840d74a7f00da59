package actors

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// newActID makes an act's id (and an application's, a session's): 32
// lower-case hex digits, the first 12 the milliseconds since 1970 (UTC)
// at which it was made, the other 20 random (80 bits from crypto/rand).
//
// The random part keeps an id unguessable, so that an id alone gives
// nobody access (the act checks who asks anyway). The time in front is for
// the event log: a stream's keys begin with its id, so ids made in order
// put an act's events beside those of the acts made about when it was,
// and pebble's flushes cover the store's newest key range instead of all
// of it. With ids wholly random every flush overlapped every level's
// tables, and compactions rewrote the whole store again and again
// (docs/performance-cpu.md, "Act ids in time order"). An id made before
// this layout (wholly random) is still valid and read the same.
func newActID() string { return actIDAt(time.Now()) }

// actIDAt is newActID at t.
func actIDAt(t time.Time) string {
	var b [16]byte
	// 48 bits of milliseconds: until the year 10889.
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
