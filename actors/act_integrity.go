package actors

import (
	"errors"

	"github.com/senim-kz/senim/persistence/eventlog"
)

// Codes of an act whose stored history cannot be trusted or read. Both are
// answered to every command and query of the act until the store is
// repaired: the state such a history replays to is not the act's, so the
// act serves nothing from it (`senim replay` and `senim check` still show
// what is stored). Other acts are not affected.
const (
	// CodeChainBroken: a record of the act no longer carries its hash, or no
	// longer links to the one before: the history was altered on disk.
	CodeChainBroken = eventlog.CodeChainBroken
	// CodeStorageCorrupt: the disk block holding the act failed its checksum.
	CodeStorageCorrupt = eventlog.CodeStorageCorrupt
)

// loadFailure is the answer an act gives after load failed with err.
func loadFailure(err error) (code, msg string) {
	switch {
	case errors.Is(err, eventlog.ErrBrokenChain):
		return CodeChainBroken, "the act's stored history fails its hash-chain check; it is read-only until the operator restores it"
	case errors.Is(err, eventlog.ErrCorrupt):
		return CodeStorageCorrupt, "the act's stored history is on a damaged part of the disk; the operator must restore it"
	}
	return CodeInternal, "the act could not be loaded; retry"
}

// failure is what an unloaded act answers.
func (a *actActor) failure() (code, msg string) {
	if a.failCode == "" {
		return CodeInternal, "the act could not be loaded; retry"
	}
	return a.failCode, a.failMsg
}
