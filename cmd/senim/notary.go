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

func cmdNotaryAdd(args []string) error {
	fs := flag.NewFlagSet("senim notary add", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	login := fs.String("login", "", "login (a-z 0-9 . _ -)")
	name := fs.String("name", "", "full name as on documents")
	id := fs.String("iin", "", "the notary's IIN: their EDS must carry it")
	license := fs.String("license", "", "licence number")
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
	if *login == "" || *name == "" || *id == "" || pw == "" {
		fs.Usage()
		return &exitError{code: 2, msg: "--login, --name, --iin and a password are required"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	path := server.AccountsPath(cfg.DataDir)
	if err := accounts.Add(path, accounts.Notary{Login: *login, Name: *name, IIN: *id, License: *license}, pw, time.Now()); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	fmt.Printf("notary %s added to %s (a running server picks it up)\n", *login, path)
	return nil
}

func cmdNotaryRemove(args []string) error {
	fs := flag.NewFlagSet("senim notary remove", flag.ContinueOnError)
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
	path := server.AccountsPath(cfg.DataDir)
	if err := accounts.Remove(path, *login); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	fmt.Printf("notary %s removed from %s (a running server closes their sessions)\n", *login, path)
	return nil
}
