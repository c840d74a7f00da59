// Package document renders a power of attorney: its canonical text in
// Russian and Kazakh (the bytes a notary's signature is over) and a
// printable PDF with the document's unique code and a QR code that leads to
// the public check.
//
// The text comes from templates/poa.txt.tmpl, kept in the repository; the
// PDF embeds DejaVu Sans (fonts/, Bitstream Vera licence), which covers the
// Cyrillic and the Kazakh letters ә ғ қ ң ө ұ ү һ і. Rendering does no I/O:
// the same facts always give the same canonical bytes.
package document

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/senim-kz/senim/domain/act"
)

//go:embed templates/poa.txt.tmpl
var templates embed.FS

//go:embed fonts/DejaVuSans.ttf
var fontRegular []byte

//go:embed fonts/DejaVuSans-Bold.ttf
var fontBold []byte

var poaTmpl = template.Must(template.ParseFS(templates, "templates/poa.txt.tmpl"))

// Person is a party as the document names them.
type Person struct {
	IIN  string
	Name string
}

// Notary is the notary as the document names them.
type Notary struct {
	Name, IIN, License string
}

// Facts are what a power of attorney says.
type Facts struct {
	Code           string
	ActID          string
	RegistryNumber string
	Date           time.Time
	Place          string
	Principal      Person
	Attorney       Person
	Notary         Notary
	Powers         string
	TermMonths     int
	StateDuty      act.Money
	ServicesFee    act.Money
	// HistoryHead is the act's hash-chain head up to the approval: signing
	// the text seals the history it names.
	HistoryHead string
	// VerifyURL is the public check of this document, what the QR code holds.
	VerifyURL string
}

// ValidUntil is the last day of the term.
func (f Facts) ValidUntil() time.Time {
	return f.Date.AddDate(0, f.TermMonths, -1)
}

// Canonical is the document's text, UTF-8 with \n line ends: the bytes the
// notary signs.
func Canonical(f Facts) []byte {
	var b bytes.Buffer
	err := poaTmpl.Execute(&b, map[string]any{
		"Code": f.Code, "ActID": f.ActID, "RegistryNumber": f.RegistryNumber,
		"Date": f.Date.Format("02.01.2006"), "Place": f.Place,
		"Principal": f.Principal, "Attorney": f.Attorney, "Notary": f.Notary,
		"Powers": f.Powers, "TermMonths": f.TermMonths, "ValidUntil": f.ValidUntil().Format("02.01.2006"),
		"StateDuty": f.StateDuty.String(), "ServicesFee": f.ServicesFee.String(),
		"HistoryHead": f.HistoryHead, "VerifyURL": f.VerifyURL,
	})
	if err != nil {
		panic(err) // the template and the map are ours
	}
	return bytes.ReplaceAll(b.Bytes(), []byte("\r\n"), []byte("\n"))
}

// Signature is what the printed document says of the notary's EDS.
type Signature struct {
	SignerName  string
	SignerIIN   string
	Fingerprint string
	SignedAt    time.Time
}

// PDF renders the printable document: the canonical text, the QR code of
// the public check and the unique code, and the notary's signature if signed.
func PDF(f Facts, sig *Signature) ([]byte, error) {
	qr, err := qrcode.Encode(f.VerifyURL, qrcode.Medium, 512)
	if err != nil {
		return nil, fmt.Errorf("document: qr: %w", err)
	}
	p := fpdf.New("P", "mm", "A4", "")
	p.SetTitle("Доверенность "+f.Code, true)
	p.SetCreator("Senim", true)
	p.SetCatalogSort(true) // reproducible output: verify re-renders and compares
	p.SetCreationDate(f.Date)
	p.SetModificationDate(f.Date)
	p.AddUTF8FontFromBytes("DejaVu", "", fontRegular)
	p.AddUTF8FontFromBytes("DejaVu", "B", fontBold)
	p.SetMargins(20, 18, 20)
	p.AddPage()
	p.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qr))
	p.ImageOptions("qr", 150, 14, 40, 40, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	lines := strings.Split(strings.TrimRight(string(Canonical(f)), "\n"), "\n")
	p.SetFont("DejaVu", "B", 15)
	p.MultiCell(125, 8, lines[0], "", "L", false)
	p.SetFont("DejaVu", "", 9.5)
	p.MultiCell(125, 5, lines[1], "", "L", false)
	p.Ln(3)
	p.SetFont("DejaVu", "B", 11)
	p.MultiCell(125, 6, lines[3], "", "L", false)
	p.SetFont("DejaVu", "", 10.5)
	p.SetY(58)
	for _, l := range lines[4:] {
		if l == "" {
			p.Ln(3)
			continue
		}
		p.MultiCell(0, 5.5, l, "", "L", false)
	}
	p.Ln(6)
	p.SetFont("DejaVu", "B", 10.5)
	if sig != nil {
		p.MultiCell(0, 5.5, "Подписано ЭЦП нотариуса / Нотариустың ЭЦҚ-мен қол қойылған:", "", "L", false)
		p.SetFont("DejaVu", "", 10)
		p.MultiCell(0, 5.5, fmt.Sprintf("%s, ИИН %s, %s UTC", sig.SignerName, sig.SignerIIN, sig.SignedAt.UTC().Format("02.01.2006 15:04")), "", "L", false)
		p.MultiCell(0, 5.5, "Сертификат SHA-256: "+sig.Fingerprint, "", "L", false)
	} else {
		p.MultiCell(0, 5.5, "ПРОЕКТ — не подписан / ЖОБА — қол қойылмаған", "", "L", false)
	}
	var out bytes.Buffer
	if err := p.Output(&out); err != nil {
		return nil, fmt.Errorf("document: pdf: %w", err)
	}
	return out.Bytes(), nil
}

// SignatureOf is what the printed document says of a signed act's notary
// signature; nil before signing.
func SignatureOf(s *act.State) *Signature {
	if s.NotarySig == nil {
		return nil
	}
	return &Signature{SignerName: s.NotarySig.SignerName, SignerIIN: s.NotarySig.SignerIIN,
		Fingerprint: s.NotarySig.Fingerprint, SignedAt: s.SignedAt}
}

// FactsOf reads a document's facts from an act. The principal's name is the
// one on their sign-in certificate, the attorney's the one on the
// certificate that signed the consent; place and publicURL come from the
// configuration.
func FactsOf(s *act.State, place, publicURL string) Facts {
	f := Facts{
		Code: s.DocumentCode, ActID: s.ID, Date: s.DocumentDate.UTC(), Place: place,
		Principal:   Person{IIN: s.Principal.IIN, Name: s.Principal.Name},
		Attorney:    Person{IIN: s.Attorney.IIN, Name: s.Attorney.Name},
		Notary:      Notary{Name: s.Notary.Name, IIN: s.Notary.IIN},
		HistoryHead: s.HistoryHead,
		VerifyURL:   strings.TrimRight(publicURL, "/") + "/verify/" + s.DocumentCode,
	}
	if f.Attorney.Name == "" && s.Consent != nil {
		f.Attorney.Name = s.Consent.SignerName
	}
	if c := s.Current(); c != nil {
		d := c.Draft
		f.RegistryNumber, f.Powers, f.TermMonths, f.StateDuty, f.ServicesFee = d.RegistryNumber, d.Powers, d.TermMonths, d.StateDuty, d.ServicesFee
	}
	return f
}
