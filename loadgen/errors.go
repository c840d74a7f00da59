package loadgen

import (
	"errors"
	"fmt"
)

// Codes of the errors that stop a run before it starts. `senim load` exits
// with status 2 for each of them.
const (
	// CodeUnreachable: the server did not answer at the given address.
	CodeUnreachable = "unreachable"
	// CodeNoDevCA: the data directory has no development CA.
	CodeNoDevCA = "no_dev_ca"
	// CodeSetup: the people could not be made (keys, registry, accounts).
	CodeSetup = "setup_failed"
	// CodeSignIn: the server refused a sign-in of a simulated person; the
	// message carries the server's code (untrusted_chain for keys of a CA
	// the server does not trust, signin_failed for an unknown notary).
	CodeSignIn = "signin_refused"
	// CodeBadOptions: the options are out of range.
	CodeBadOptions = "bad_options"
)

// FatalError stops a run before any load is applied: the server is not
// reachable, or it would not accept the simulated people.
type FatalError struct {
	Code string
	Err  error
}

func (e *FatalError) Error() string { return fmt.Sprintf("%s: %v", e.Code, e.Err) }

// Unwrap returns the cause.
func (e *FatalError) Unwrap() error { return e.Err }

func fatal(code string, format string, args ...any) error {
	return &FatalError{Code: code, Err: fmt.Errorf(format, args...)}
}

// IsFatal reports whether err stopped the run before it started.
func IsFatal(err error) bool {
	var f *FatalError
	return errors.As(err, &f)
}

// Codes the tool gives failures the server did not name.
const (
	codeTimeout = "timeout"      // the step's answer or event did not come within --step-timeout
	codeClosed  = "conn_closed"  // the server closed a session mid-act
	codeDial    = "dial_failed"  // a session could not connect
	codeForeign = "foreign_link" // a payment link pointing away from --addr
	codeTool    = "tool_error"   // anything else on the tool's side
)
