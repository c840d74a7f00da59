package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// EventFrame is the frame of one event, byte for byte what json.Marshal
// makes of Envelope{Type: TypeEvent, Act, Seq, Name, Actor, At, Body}, built
// without reflection and without scanning body again: body must be valid
// compact JSON (a stored payload is). Every event goes to every session
// subscribed to its act, so this is one of the server's hottest encodings.
// Whatever json.Marshal would escape (control and non-ASCII characters in
// the strings, HTML characters anywhere) goes through json.Marshal itself.
func EventFrame(act string, seq uint64, name, actor string, at time.Time, body []byte) []byte {
	if !plain(act) || !plain(name) || !plain(actor) || bytes.ContainsAny(body, "<>&\u2028\u2029") ||
		at.Year() < 0 || at.Year() > 9999 {
		return marshalEvent(act, seq, name, actor, at, body)
	}
	b := make([]byte, 0, 96+len(act)+len(name)+len(actor)+len(body))
	b = append(b, `{"type":"event"`...)
	if act != "" {
		b = append(append(append(b, `,"act":"`...), act...), '"')
	}
	if name != "" {
		b = append(append(append(b, `,"name":"`...), name...), '"')
	}
	if seq != 0 {
		b = strconv.AppendUint(append(b, `,"seq":`...), seq, 10)
	}
	if actor != "" {
		b = append(append(append(b, `,"actor":"`...), actor...), '"')
	}
	b = at.AppendFormat(append(b, `,"at":"`...), time.RFC3339Nano)
	b = append(b, '"')
	if len(body) > 0 {
		b = append(append(b, `,"body":`...), body...)
	}
	return append(b, '}')
}

// plain says that json.Marshal writes s as it is, between quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func marshalEvent(act string, seq uint64, name, actor string, at time.Time, body []byte) []byte {
	b, err := json.Marshal(Envelope{Type: TypeEvent, Act: act, Seq: seq, Name: name, Actor: actor, At: &at, Body: body})
	if err != nil {
		panic(fmt.Sprintf("protocol: an event does not encode: %v", err))
	}
	return b
}
