package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/transport/server"
)

// cmdOperatorAdd adds an account for the /ops dashboard: a kind apart from
// notaries, kept in its own file.
func cmdOperatorAdd(args []string) error {
	fs := flag.NewFlagSet("senim operator add", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	login := fs.String("login", "", "login (a-z 0-9 . _ -)")
	name := fs.String("name", "", "full name")
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
	if *login == "" || *name == "" || pw == "" {
		fs.Usage()
		return &exitError{code: 2, msg: "--login, --name and a password are required"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	path := server.OperatorsPath(cfg.DataDir)
	if err := accounts.AddOperator(path, accounts.Operator{Login: *login, Name: *name}, pw, time.Now()); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	fmt.Printf("operator %s added to %s (a running server picks it up)\n", *login, path)
	return nil
}

func cmdOperatorRemove(args []string) error {
	fs := flag.NewFlagSet("senim operator remove", flag.ContinueOnError)
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
	path := server.OperatorsPath(cfg.DataDir)
	if err := accounts.RemoveOperator(path, *login); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	fmt.Printf("operator %s removed from %s (their /ops sessions end at their next request)\n", *login, path)
	return nil
}
