package eventlog

import (
	"errors"
	"fmt"
)

var (
	// ErrConflict: the stream's head is not at the expected sequence.
	ErrConflict = errors.New("eventlog: expected sequence does not match the stream's head")
	// ErrInvalid: a request the log cannot store (empty stream or type,
	// invalid JSON payload, a 0x00 byte in a name, no events).
	ErrInvalid = errors.New("eventlog: invalid request")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("eventlog: closed")
	// ErrBrokenChain: a stream's records do not form an intact hash chain.
	ErrBrokenChain = errors.New("eventlog: broken hash chain")
	// ErrIDReused: a command id its actor already used for another command
	// (another digest) on the stream.
	ErrIDReused = errors.New("eventlog: command id reused for another command")
)

// IDReusedError names the command id that was reused.
type IDReusedError struct {
	Stream, Actor, ID string
}

func (e *IDReusedError) Error() string {
	return fmt.Sprintf("eventlog: stream %s: %s already used command id %q for another command", e.Stream, e.Actor, e.ID)
}

// Is makes errors.Is(err, ErrIDReused) true.
func (e *IDReusedError) Is(target error) bool { return target == ErrIDReused }

// ConflictError says where the stream's head actually is.
type ConflictError struct {
	Stream           string
	Expected, Actual uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("eventlog: stream %s is at seq %d, not %d", e.Stream, e.Actual, e.Expected)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ChainError names the first record that breaks a chain.
type ChainError struct {
	Stream string
	Seq    uint64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("eventlog: stream %s: chain broken at seq %d: %s", e.Stream, e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrBrokenChain) true.
func (e *ChainError) Is(target error) bool { return target == ErrBrokenChain }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ErrCorrupt: the store failed a checksum (or pebble found it inconsistent)
// where a read needed it. The damage is confined to what that read touched:
// other streams keep serving. errors.As gives a *CorruptError that names the
// file.
var ErrCorrupt = errors.New("eventlog: storage corrupt")

// CorruptError says which stream a read was serving and which file of the
// store failed its checksum.
type CorruptError struct {
	Stream string // "" when the read was not of one stream
	File   string // the damaged file, when pebble knows it
	Err    error  // pebble's error
}

func (e *CorruptError) Error() string {
	s := "eventlog: storage corrupt"
	if e.Stream != "" {
		s += " reading stream " + e.Stream
	}
	if e.File != "" {
		s += " in file " + e.File
	}
	return s + ": " + e.Err.Error()
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap gives pebble's error.
func (e *CorruptError) Unwrap() error { return e.Err }
