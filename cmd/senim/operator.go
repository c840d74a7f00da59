package main

import (
	"flag"
	"time"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/transport/server"
)

// operatorAccounts are the accounts for the /ops dashboard: a kind apart from
// notaries, kept in its own file.
var operatorAccounts = accountKind{
	kind:     "operator",
	nameHelp: "full name",
	required: "--login, --name and a password",
	flags: func(*flag.FlagSet) (func(path, login, name, pw string, now time.Time) error, func() bool) {
		add := func(path, login, name, pw string, now time.Time) error {
			return accounts.AddOperator(path, accounts.Operator{Login: login, Name: name}, pw, now)
		}
		return add, func() bool { return false }
	},
	path:        server.OperatorsPath,
	remove:      accounts.RemoveOperator,
	removedNote: "their /ops sessions end at their next request",
}

func cmdOperatorAdd(args []string) error    { return addAccount(operatorAccounts, args) }
func cmdOperatorRemove(args []string) error { return removeAccount(operatorAccounts, args) }
