// Command senim is Senim's server and its operator tools.
//
//	senim serve                       run the server on config.toml (embedded defaults without one)
//	senim notary add …                add a notary's account
//	senim notary remove --login L     remove it (a running server closes their sessions)
//	senim client …                    an interactive protocol client (walk through an act by hand)
//	senim load acts|sessions …        the load generator (package loadgen)
//	senim replay ACT [--at N]         an act's timeline, or its state after event N
//	senim export ACT / verify ZIP     an act's evidence package, and its offline check
//	senim check                       scan the whole event log: checksums, chains, checkpoints, act snapshots
//	senim dev issue …                 issue NUC-profile test keys from the development CA
//	senim dev revoke …                revoke them and publish the CRL
//	senim dev list                    list what the development CA has issued
//	senim dev ncalayer …              run the NCALayer-protocol signer that stands in for NCALayer
//	senim dev egov-mobile … LINK      sign an eGov mobile link as the citizen's phone would
//	senim dev egov-mobile-page …      the eGov mobile stand-in as a web page (the phone of the QR)
//	senim cms verify FILE             verify a CMS signature and print the signer
//	senim cms sign …                  sign a file with a PKCS#12 key
//
// Every command reads config.toml (or --config, or SENIM_CONFIG) and SENIM_*
// environment overrides.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// exitError carries an exit status and a message for the user.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usage() {
	fmt.Fprint(os.Stderr, `usage: senim <command> [flags]

  serve              run the server (HTTP, websocket gateway) on config.toml
  notary add         add or replace a notary's account (login, password, IIN)
  notary remove      remove a notary's account; a running server closes their sessions
  operator add       add or replace an account for the /ops dashboard (login, name, password)
  operator remove    remove an operator's account
  client             an interactive protocol client: a client, attorney or notary at a terminal
  client apply       get EDS keys remotely (SMS code, Digital ID, keys made here, the CA): an applicant at a terminal
  load acts|sessions the load generator: whole acts (closed or open loop), or idle sessions
  replay ACT         an act's timeline from the event log (--at N: its state after event N)
  export ACT         write an act's evidence package (ZIP)
  verify ZIP|CODE    check an evidence package, or a document by code, part by part
  check              scan the event log: block checksums, every hash chain, the signed checkpoints, act snapshots
  dev issue          issue a person's AUTH_RSA and RSA keys from the development CA
  dev revoke         revoke development certificates and publish the CRL
  dev list           list the development CA's certificates
  dev ncalayer       run the NCALayer-protocol signer on 127.0.0.1:13579
  dev egov-mobile    sign an eGov mobile link (QR text, deep link or URL) as the citizen's phone
  dev egov-mobile-page  the eGov mobile stand-in as a web page: open a link, PIN 000000, sign
  cms verify FILE    verify a CMS signature (DER, PEM or base64) and print the signer
  cms sign           sign a file with a PKCS#12 key

Run "senim <command> -h" for a command's flags.
`)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "senim:", ee.msg)
			}
			os.Exit(ee.code)
		}
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "senim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		usage()
		return &exitError{code: 2}
	}
	cmd, rest := args[0], args[1:]
	sub := ""
	if len(rest) > 0 {
		sub = rest[0]
	}
	switch {
	case cmd == "serve":
		return cmdServe(rest)
	case cmd == "export":
		return cmdExport(rest)
	case cmd == "verify":
		return cmdVerify(rest)
	case cmd == "check":
		return cmdCheck(rest)
	case cmd == "replay":
		return cmdReplay(rest)
	case cmd == "client" && sub == "apply":
		return cmdApply(rest[1:])
	case cmd == "apply":
		return cmdApply(rest)
	case cmd == "client":
		return cmdClient(rest)
	case cmd == "load":
		return cmdLoad(rest)
	case cmd == "notary" && sub == "add":
		return cmdNotaryAdd(rest[1:])
	case cmd == "operator" && sub == "add":
		return cmdOperatorAdd(rest[1:])
	case cmd == "operator" && sub == "remove":
		return cmdOperatorRemove(rest[1:])
	case cmd == "notary" && sub == "remove":
		return cmdNotaryRemove(rest[1:])
	case cmd == "dev" && sub == "egov-mobile-page":
		return cmdDevEgovMobilePage(rest[1:])
	case cmd == "dev" && sub == "issue":
		return cmdDevIssue(rest[1:])
	case cmd == "dev" && sub == "revoke":
		return cmdDevRevoke(rest[1:])
	case cmd == "dev" && sub == "list":
		return cmdDevList(rest[1:])
	case cmd == "dev" && sub == "ncalayer":
		return cmdDevNCALayer(rest[1:])
	case cmd == "dev" && sub == "egov-mobile":
		return cmdDevEgovMobile(rest[1:])
	case cmd == "cms" && sub == "verify":
		return cmdCMSVerify(rest[1:])
	case cmd == "cms" && sub == "sign":
		return cmdCMSSign(rest[1:])
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		usage()
		return nil
	}
	usage()
	return &exitError{code: 2, msg: fmt.Sprintf("unknown command %q", joinNonEmpty(cmd, sub))}
}

func joinNonEmpty(a, b string) string {
	if b == "" {
		return a
	}
	return a + " " + b
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
