package main

import (
	"flag"
	"strings"
	"time"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/transport/server"
)

// notaryAccounts are the notaries' accounts: they sign in to the notary app
// and must sign with an EDS that carries their IIN.
var notaryAccounts = accountKind{
	kind:     "notary",
	nameHelp: "full name as on documents",
	required: "--login, --name, --iin and a password",
	flags: func(fs *flag.FlagSet) (func(path, login, name, pw string, now time.Time) error, func() bool) {
		id := fs.String("iin", "", "the notary's IIN: their EDS must carry it")
		license := fs.String("license", "", "licence number")
		roles := fs.String("roles", "", "comma-separated: notary, registrar, moderator (remote EDS issuance staff); none is notary. Staff roles without notary make a staff account that cannot act as a notary")
		add := func(path, login, name, pw string, now time.Time) error {
			var rs []string
			for _, r := range strings.Split(*roles, ",") {
				if r = strings.TrimSpace(r); r != "" {
					rs = append(rs, r)
				}
			}
			return accounts.Add(path, accounts.Notary{Login: login, Name: name, IIN: *id, License: *license, Roles: rs}, pw, now)
		}
		return add, func() bool { return *id == "" }
	},
	path:        server.AccountsPath,
	remove:      accounts.Remove,
	removedNote: "a running server closes their sessions",
}

func cmdNotaryAdd(args []string) error    { return addAccount(notaryAccounts, args) }
func cmdNotaryRemove(args []string) error { return removeAccount(notaryAccounts, args) }
