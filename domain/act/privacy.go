package act

import "encoding/json"

// Personal data on a need-to-know basis: the attorney takes part in the act,
// but has no need of the principal's phone. These functions make the copies
// the attorney is shown; what is stored, and its hashes, never change.

// ForViewer returns the state as by may see it. The attorney sees neither
// the principal's phone nor the principal's signed application, whose
// attached content carries the phone. s itself is not changed.
func ForViewer(s State, by Actor) State {
	if by.Role != RoleAttorney {
		return s
	}
	s.Principal.Phone = ""
	s.Application.CMS = nil
	return s
}

// hiddenFromAttorney lists, per event type, the payload fields (as paths of
// JSON object keys) the attorney is not shown.
var hiddenFromAttorney = map[string][][]string{
	ApplicationSubmitted{}.EventType(): {{"principal", "phone"}, {"signature", "cms"}},
}

// RedactEvent returns a stored event's payload as a viewer in role r may
// see it: the payload itself when nothing is hidden from r, otherwise a
// redacted copy. A payload that does not decode is not shown at all ("{}"),
// so that a fault never leaks what it should hide.
func RedactEvent(typ string, payload []byte, r Role) []byte {
	paths := hiddenFromAttorney[typ]
	if r != RoleAttorney || len(paths) == 0 {
		return payload
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &top); err != nil {
		return []byte("{}")
	}
	for _, p := range paths {
		if err := dropPath(top, p); err != nil {
			return []byte("{}")
		}
	}
	out, err := json.Marshal(top)
	if err != nil {
		return []byte("{}")
	}
	return out
}

// dropPath removes the field at path from obj, if it is there.
func dropPath(obj map[string]json.RawMessage, path []string) error {
	if len(path) == 1 {
		delete(obj, path[0])
		return nil
	}
	raw, ok := obj[path[0]]
	if !ok || string(raw) == "null" {
		return nil
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inner); err != nil {
		return err
	}
	if err := dropPath(inner, path[1:]); err != nil {
		return err
	}
	b, err := json.Marshal(inner)
	if err != nil {
		return err
	}
	obj[path[0]] = b
	return nil
}
