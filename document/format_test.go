package document

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

func mustCanonical(t *testing.T, f Facts) []byte {
	t.Helper()
	b, err := Canonical(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// v1SHA256 pins version 1's bytes for the test facts: acts already signed
// render with it, so a change to the template or its rendering breaks them.
const v1SHA256 = "0d2f4c83e57075ccf80416bf070f1e1965f5a48a875ef88fef12a19ee47b0106"

func TestVersionOneBytesNeverChange(t *testing.T) {
	for _, format := range []int{0, FormatV1} {
		f := facts
		f.Format = format
		if got := act.SHA256Hex(mustCanonical(t, f)); got != v1SHA256 {
			t.Fatalf("format %d: version 1 renders to %s, signed documents hold %s", format, got, v1SHA256)
		}
	}
}

func TestNewVersionLeavesOldOnes(t *testing.T) {
	v1 := mustCanonical(t, facts)
	remove, err := Register(3, "ДОВЕРЕННОСТЬ v3 {{.Code}}\n{{.Place}}\n\n{{.Powers}}\n")
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	if CurrentFormat() != 3 {
		t.Fatalf("current format %d after registering 3", CurrentFormat())
	}
	f := facts
	f.Format = FormatV1
	if !bytes.Equal(mustCanonical(t, f), v1) {
		t.Fatal("registering version 3 changed version 1's bytes")
	}
	f.Format = 3
	if v2 := mustCanonical(t, f); !strings.HasPrefix(string(v2), "ДОВЕРЕННОСТЬ v3 "+facts.Code) {
		t.Fatalf("version 3 renders %q", v2)
	}
	short, err := Register(4, "{{.Code}}\n")
	if err != nil {
		t.Fatal(err)
	}
	defer short()
	f.Format = 4
	if _, err := PDF(f, nil); err == nil {
		t.Fatal("a one-line template printed")
	}
	short()
	f.Format = 3
	if _, err := Register(FormatV1, "changed"); err == nil {
		t.Fatal("version 1 was replaced")
	}
	remove()
	if CurrentFormat() != FormatV2 {
		t.Fatalf("current format %d after removing 3", CurrentFormat())
	}
	if _, err := Canonical(f); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("an unknown version renders: %v", err)
	}
	if _, err := PDF(f, nil); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("an unknown version prints: %v", err)
	}
}

// signedState is an act with its document code and draft, as FactsOf reads it.
func signedState(in act.DocumentInputs) act.State {
	return act.State{ID: facts.ActID, DocumentCode: facts.Code, DocumentDate: facts.Date, HistoryHead: facts.HistoryHead,
		Principal: act.Party{IIN: facts.Principal.IIN, Name: facts.Principal.Name}, Attorney: act.Party{IIN: facts.Attorney.IIN, Name: facts.Attorney.Name},
		Revisions:      []act.Revision{{Number: 1, Draft: act.Draft{RegistryNumber: facts.RegistryNumber, Powers: facts.Powers, TermMonths: 24}}},
		DocumentInputs: in}
}

func TestRecordedInputsWinOverTheConfiguration(t *testing.T) {
	recorded := act.DocumentInputs{Place: "г. Шымкент / Шымкент қ.", PublicURL: "https://notary.example.kz/", Format: FormatV1}
	st := signedState(recorded)
	f := FactsOf(&st, act.DocumentInputs{Place: "elsewhere", PublicURL: "http://other"})
	if f.Place != recorded.Place || f.VerifyURL != "https://notary.example.kz/verify/"+facts.Code || f.Format != FormatV1 {
		t.Fatalf("facts %+v", f)
	}
}

func TestRecoverVersionOneInputsFromTheSignedText(t *testing.T) {
	st := signedState(act.DocumentInputs{})
	then := act.DocumentInputs{Place: "г. Астана / Астана қ.", PublicURL: "http://10.0.0.5:8080"}
	signed := mustCanonical(t, FactsOf(&st, then))
	in, ok := RecoverV1(&st, signed)
	if !ok || in != (act.DocumentInputs{Place: then.Place, PublicURL: then.PublicURL, Format: FormatV1}) {
		t.Fatalf("recovered %+v %v", in, ok)
	}
	// Text that is not exactly the act's document gives nothing back.
	for _, bad := range [][]byte{append(append([]byte{}, signed...), ' '), bytes.Replace(signed, []byte(facts.Powers), []byte("x"), 1), nil} {
		if _, ok := RecoverV1(&st, bad); ok {
			t.Fatalf("recovered inputs from %q", bad)
		}
	}
	// Without a signature to read them from, the caller's inputs stand in.
	if got := InputsOf(&st, then); got.Place != then.Place || got.Format != FormatV1 {
		t.Fatalf("legacy inputs %+v", got)
	}
}

// An act coded before inputs were recorded, and signed then: its place and
// address come back from the text its notary's CMS carries, whatever the
// configuration says today; a detached CMS leaves the caller's inputs.
func TestLegacyActReadsItsInputsFromTheSignedText(t *testing.T) {
	ca, err := devca.Open(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.IssuePair(devca.Request{IIN: iin.IIN(facts.Notary.IIN), Surname: "Нотариус", Name: "Алия"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st := signedState(act.DocumentInputs{})
	then := act.DocumentInputs{Place: "г. Астана / Астана қ.", PublicURL: "http://10.0.0.5:8080"}
	signed := mustCanonical(t, FactsOf(&st, then))
	today := act.DocumentInputs{Place: "г. Алматы / Алматы қ.", PublicURL: "https://notary.example.kz"}
	for _, detached := range []bool{false, true} {
		cms, err := pair.Sign.Sign(signed, pki.SignOptions{Detached: detached})
		if err != nil {
			t.Fatal(err)
		}
		st.NotarySig = &act.Signature{CMS: cms}
		want := then
		if detached {
			want = today
		}
		want.Format = FormatV1
		if got := InputsOf(&st, today); got != want {
			t.Fatalf("detached %v: inputs %+v, want %+v", detached, got, want)
		}
	}
}
