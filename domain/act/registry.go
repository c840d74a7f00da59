package act

import (
	"time"

	"github.com/senim-kz/senim/domain/iin"
)

// RecordRegistryCheck records that the act's notary looked a person up in
// the individuals registry, and whether the registry knew them. It is sent
// by the server on the notary's behalf after the look-up (the registry_lookup
// query), never by an app: an app could claim a look-up that never happened.
type RecordRegistryCheck struct {
	IIN   string `json:"iin"`
	Found bool   `json:"found"`
}

// RegistryChecked is a look-up in the individuals registry made by the act's
// notary (the event's actor): which IIN, whether it was found, and when.
// Personal data is read on a need-to-know basis, and every read is on record.
type RegistryChecked struct {
	IIN   string    `json:"iin"`
	Found bool      `json:"found"`
	At    time.Time `json:"at"`
}

// CommandName is the command's protocol name.
func (RecordRegistryCheck) CommandName() string { return "record_registry_check" }

// EventType is the event's stored name.
func (RegistryChecked) EventType() string { return "registry_checked" }

func init() { register[RegistryChecked]() }

// MayCheckRegistry says whether by may look the person with IIN id up in
// the individuals registry for the act in s: only the act's assigned
// notary, only while the identity checks are made (the call is on, before
// signing), and only the act's own parties, the principal and the attorney.
// The server asks it before it calls the registry, and Decide asks it again
// when the look-up is recorded.
func MayCheckRegistry(s *State, by Actor, id string) error {
	if s.Phase == PhaseNone {
		return refuse(CodeNoSuchAct, "no such act")
	}
	if by.Role != RoleNotary || by.ID == "" || by.ID != s.Notary.ID {
		return refuse(CodeForbidden, "only the act's notary looks its people up in the registry")
	}
	if s.Phase != PhaseWithNotary || s.Call != CallActive {
		return refuse(CodeNotAllowedInState, "registry look-ups are made in the call, before signing (act is %s, call %q)", s.Phase, s.Call)
	}
	if _, err := iin.ParseIIN(id); err != nil {
		return refuse(IINCode(err), "%v", err)
	}
	if id != s.Principal.IIN && id != s.Attorney.IIN {
		return refuse(CodeNotAParty, "only the act's principal and attorney are looked up")
	}
	return nil
}

func decideRegistryCheck(s *State, by Actor, c RecordRegistryCheck, now time.Time) ([]Event, error) {
	if err := MayCheckRegistry(s, by, c.IIN); err != nil {
		return nil, err
	}
	return []Event{RegistryChecked{IIN: c.IIN, Found: c.Found, At: now}}, nil
}
