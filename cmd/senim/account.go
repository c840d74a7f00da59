package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// accountKind is one kind of account the CLI adds and removes. Notaries and
// /ops operators live in separate files with separate fields, but reading the
// flags, the password and the config is the same for both, so it is written
// once here.
type accountKind struct {
	kind     string // "notary" or "operator", as in the command and its output
	nameHelp string // help for --name
	// required names the flags "add" needs, for its usage error.
	required string
	// flags registers the kind's own flags. The returned add writes the account
	// once they are parsed; missing reports whether a required one is empty.
	flags func(fs *flag.FlagSet) (add func(path, login, name, pw string, now time.Time) error, missing func() bool)
	// path is the kind's account file under the data directory.
	path   func(dataDir string) string
	remove func(path, login string) error
	// removedNote tells the admin what happens to the removed account's sessions.
	removedNote string
}

// addAccount runs "senim <kind> add".
func addAccount(k accountKind, args []string) error {
	fs := flag.NewFlagSet("senim "+k.kind+" add", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	login := fs.String("login", "", "login (a-z 0-9 . _ -)")
	name := fs.String("name", "", k.nameHelp)
	add, missing := k.flags(fs)
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	password := fs.String("password", "", "password (at least 10 characters); prefer --password-stdin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pw := *password
	if *pwStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return err
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if *login == "" || *name == "" || missing() || pw == "" {
		fs.Usage()
		return &exitError{code: 2, msg: k.required + " are required"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	path := k.path(cfg.DataDir)
	if err := add(path, *login, *name, pw, time.Now()); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	fmt.Printf("%s %s added to %s (a running server picks it up)\n", k.kind, *login, path)
	return nil
}

// removeAccount runs "senim <kind> remove".
func removeAccount(k accountKind, args []string) error {
	fs := flag.NewFlagSet("senim "+k.kind+" remove", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	login := fs.String("login", "", "the login to remove")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *login == "" {
		fs.Usage()
		return &exitError{code: 2, msg: "--login is required"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	path := k.path(cfg.DataDir)
	if err := k.remove(path, *login); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	fmt.Printf("%s %s removed from %s (%s)\n", k.kind, *login, path, k.removedNote)
	return nil
}
