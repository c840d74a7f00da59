package actors

import (
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/pseudonym"
)

// Log lines name people only by pseudonym: never an IIN, never a phone. The
// event log keeps the names (it is the legal record); the logs do not need
// them to follow a person through a session.

// processKey stands in when Deps has no key, so that a log line never falls
// back to the IIN itself.
var processKey = pseudonym.Random()

// person is the pseudonym of an IIN for log lines.
func (d Deps) person(iin string) string {
	if d.Pseudonyms == nil {
		return processKey.Person(iin)
	}
	return d.Pseudonyms.Person(iin)
}

// who names an actor in log lines: a client or an attorney by the
// pseudonym of their IIN ("client:p:3f0c…"), a notary by login, the bank
// and the system by role. Every log line about a person uses it.
func (d Deps) who(a act.Actor) string {
	switch a.Role {
	case act.RoleClient, act.RoleAttorney:
		id := a.IIN
		if id == "" {
			id = a.ID
		}
		return string(a.Role) + ":" + d.person(id)
	}
	return a.String()
}
