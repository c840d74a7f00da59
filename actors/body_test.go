package actors

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/testtool"
)

// compactedDigest is commandDigest as it was first written: every body
// compacted (json.Compact), a body that is not JSON hashed as it is. Stored
// acts remember their commands' digests, so the digest of a body must never
// change.
func compactedDigest(name string, body json.RawMessage) string {
	var b bytes.Buffer
	if len(body) == 0 || json.Compact(&b, body) != nil {
		b.Reset()
		b.Write(body)
	}
	if b.Len() == 0 {
		b.WriteString("{}")
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s,%d:", len(name), name, b.Len())
	h.Write(b.Bytes())
	return hex.EncodeToString(h.Sum(nil))
}

// A command's digest is the same as ever for every body, compact or not,
// JSON or not; and a compact body (what clients send) is hashed without
// being copied.
func TestCommandDigestIsTheCompactedBodys(t *testing.T) {
	bodies := []string{
		``, `{}`, `{"cms":"MIIB+/=="}`, `{"cms": "MIIB+/=="}`, "{\n\t\"reason\" :\r\n \"a b\"\n}",
		`{"reason":"a b"}`, `{"a":[1, 2,3],"b":{"c":null}}`, `  `, `{bad`, `{bad }`, `"x"`, `[1, 2]`, `{"s":"\u0020"}`,
	}
	for _, name := range []string{"give_consent", "", "a:b,1:"} {
		for _, b := range bodies {
			if got, want := commandDigest(name, json.RawMessage(b)), compactedDigest(name, json.RawMessage(b)); got != want {
				t.Errorf("commandDigest(%q, %q) = %s, want %s", name, b, got, want)
			}
		}
	}
	if commandDigest("give_consent", json.RawMessage(`{"cms":"AA"}`)) == commandDigest("give_consent", json.RawMessage(`{"cms":"AB"}`)) ||
		commandDigest("give_consent", nil) == commandDigest("approve_draft", nil) {
		t.Error("two commands, one digest")
	}
	if testtool.Race {
		return
	}
	body := json.RawMessage(`{"cms":"` + string(bytes.Repeat([]byte("QUJD"), 1500)) + `"}`)
	// sha256's state and the hex string.
	if n := testing.AllocsPerRun(50, func() { commandDigest("give_consent", body) }); n > 2 {
		t.Errorf("%v allocations to digest a compact body", n)
	}
}

// A signed command's body is read once for the command and its "cms"
// together, and what comes out is what reading it for each gave: the same
// command, field for field, and the same CMS. Only the five signed
// commands are read so; a body the two cannot both take (a "cms" that is
// not a string, a body that is not an object) is left to decode's reading
// as before, errors and all.
func TestSignedBodyReadWithItsCMS(t *testing.T) {
	signed := map[string]bool{"submit_application": true, "give_consent": true, "approve_draft": true, "sign_act": true, "revoke_poa": true}
	for name, proto := range act.Commands() {
		typ := reflect.TypeOf(proto)
		full := reflect.New(typ).Elem()
		fill(full, name)
		fields, err := json.Marshal(full.Interface())
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"cms":"Q01T"}`)
		if string(fields) != "{}" {
			body = append([]byte(`{"cms":"Q01T",`), fields[1:]...)
		}
		plain := reflect.New(typ)
		if err := json.Unmarshal(body, plain.Interface()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cmd, cms, read := decodeSigned(typ, body)
		if read != signed[name] {
			t.Errorf("%s: read with its CMS %v, want %v", name, read, signed[name])
			continue
		}
		if !read {
			continue
		}
		if cms != "Q01T" || !reflect.DeepEqual(cmd, plain.Elem().Interface()) {
			t.Errorf("%s: read once %+v with cms %q, read alone %+v", name, cmd, cms, plain.Elem().Interface())
		}
		for _, b := range []string{`{"cms":5}`, `[]`, `{"cms":"Q01T"`, `{"signature":7,"cms":"Q01T"}`} {
			if _, _, read := decodeSigned(typ, []byte(b)); read {
				t.Errorf("%s: %s read with its CMS", name, b)
			}
		}
		if _, cms, read := decodeSigned(typ, []byte(`{"CMS":"QQ==","cms":"Qg=="}`)); !read || cms != "Qg==" {
			t.Errorf("%s: the last of two cms keys: %q", name, cms)
		}
	}
}

// fill sets every string, number and bool v holds, and every such element
// of a slice of one, to a value of its own.
func fill(v reflect.Value, seed string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(seed + "-" + v.Type().Name())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(len(seed)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(len(seed)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), fmt.Sprintf("%s.%d", seed, i))
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), fmt.Sprintf("%s[%d]", seed, i))
		}
		v.Set(s)
	}
}
