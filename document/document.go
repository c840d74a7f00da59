// Package document renders a power of attorney: its canonical text in
// Russian and Kazakh (the bytes a notary's signature is over) and a
// printable PDF with the document's unique code and a QR code that leads to
// the public check.
//
// The text comes from a versioned template, templates/poa.v1.txt.tmpl for
// version 1 and poa.v2.txt.tmpl for version 2 (the current one), kept in
// the repository. An act records the version (with the
// place and the public address) when its document code is issued, and its
// document always renders with what it recorded: a version's template never
// changes once documents are signed with it; a new wording is a new version.
// The PDF embeds DejaVu Sans (fonts/, Bitstream Vera licence), which covers the
// Cyrillic and the Kazakh letters ә ғ қ ң ө ұ ү һ і. Rendering does no I/O:
// the same facts always give the same canonical bytes.
package document

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/pki"
)

//go:embed templates/poa.v1.txt.tmpl templates/poa.v2.txt.tmpl
var templates embed.FS

//go:embed fonts/DejaVuSans.ttf
var fontRegular []byte

//go:embed fonts/DejaVuSans-Bold.ttf
var fontBold []byte

// FormatV1 is the first template version: the one every act signed before
// versions were recorded used. Its bytes must never change.
const FormatV1 = 1

// FormatV2 is the second wording: the powers in Russian and in Kazakh,
// the parties named without declension (доверитель, поверенный), dates
// and times in Almaty time, amounts as 15 137,50 ₸, and the technical
// lines in a block at the end that the PDF sets small. Versions from 2 on
// get their fields in this form (see Canonical).
const FormatV2 = 2

// technicalBlock opens the technical lines of version 2 and later.
const technicalBlock = "Техническая информация / Техникалық ақпарат"

// formats are the template versions this build renders, by number.
var (
	formatsMu sync.RWMutex
	formats   = map[int]*template.Template{
		FormatV1: template.Must(template.ParseFS(templates, "templates/poa.v1.txt.tmpl")),
		FormatV2: template.Must(template.ParseFS(templates, "templates/poa.v2.txt.tmpl")),
	}
)

// ErrUnknownFormat is a document whose recorded template version this build
// does not have (a log written by a newer Senim).
var ErrUnknownFormat = errors.New("document: unknown template version")

// CurrentFormat is the template version new documents get: the highest
// this build has.
func CurrentFormat() int {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	versions := make([]int, 0, len(formats))
	for v := range formats {
		versions = append(versions, v)
	}
	sort.Ints(versions)
	return versions[len(versions)-1]
}

// Register adds template version v, over the same fields as version 1, and
// returns the function that takes it away again. Versions already known
// are refused: documents signed with one must keep rendering to the same
// bytes. Tests use it to simulate a change of template.
func Register(v int, text string) (func(), error) {
	t, err := template.New(fmt.Sprintf("poa.v%d", v)).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("document: template version %d: %w", v, err)
	}
	formatsMu.Lock()
	defer formatsMu.Unlock()
	if _, ok := formats[v]; ok || v <= 0 {
		return nil, fmt.Errorf("document: template version %d exists or is not positive", v)
	}
	formats[v] = t
	return func() {
		formatsMu.Lock()
		defer formatsMu.Unlock()
		if formats[v] == t { // not a later registration of the same number
			delete(formats, v)
		}
	}, nil
}

func formatOf(v int) (*template.Template, error) {
	if v == 0 {
		v = FormatV1 // facts that name no version: the only one there was
	}
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	t, ok := formats[v]
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownFormat, v)
	}
	return t, nil
}

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
	// PowersKK are the powers in Kazakh; version 2 shows the Russian ones
	// in their place when the draft has none.
	PowersKK    string
	TermMonths  int
	StateDuty   act.Money
	ServicesFee act.Money
	// HistoryHead is the act's hash-chain head up to the approval: signing
	// the text seals the history it names.
	HistoryHead string
	// VerifyURL is the public check of this document, what the QR code holds.
	VerifyURL string
	// Format is the template version (0 is version 1).
	Format int
}

// ValidUntil is the last day of the term, counted from the UTC date as
// version 1 prints it.
func (f Facts) ValidUntil() time.Time {
	return f.Date.AddDate(0, f.TermMonths, -1)
}

// LastDay is the last day of the term as the document's version prints
// it, yyyy-mm-dd: from version 2 on, counted from the Almaty date.
func (f Facts) LastDay() string {
	if f.Format >= FormatV2 {
		return InAlmaty(f.Date).AddDate(0, f.TermMonths, -1).Format(time.DateOnly)
	}
	return f.ValidUntil().Format(time.DateOnly)
}

// Canonical is the document's text in its template version, UTF-8 with \n
// line ends: the bytes the notary signs. The only error is ErrUnknownFormat.
func Canonical(f Facts) ([]byte, error) {
	tmpl, err := formatOf(f.Format)
	if err != nil {
		return nil, err
	}
	// Version 1's fields are what they always were (the date in UTC,
	// amounts as 2162.50 ₸): its bytes must never change.
	fields := map[string]any{
		"Code": f.Code, "ActID": f.ActID, "RegistryNumber": f.RegistryNumber,
		"Date": f.Date.Format("02.01.2006"), "Place": f.Place,
		"Principal": f.Principal, "Attorney": f.Attorney, "Notary": f.Notary,
		"Powers": f.Powers, "TermMonths": f.TermMonths, "ValidUntil": f.ValidUntil().Format("02.01.2006"),
		"StateDuty": f.StateDuty.String(), "ServicesFee": f.ServicesFee.String(),
		"HistoryHead": f.HistoryHead, "VerifyURL": f.VerifyURL,
	}
	if f.Format >= FormatV2 {
		local := InAlmaty(f.Date)
		kk := f.PowersKK
		if kk == "" {
			kk = f.Powers
		}
		fields["Date"], fields["Time"] = Date(local), local.Format("15:04")
		fields["ValidUntil"] = Date(local.AddDate(0, f.TermMonths, -1))
		fields["StateDuty"], fields["ServicesFee"], fields["Total"] = Tenge(f.StateDuty), Tenge(f.ServicesFee), Tenge(f.StateDuty+f.ServicesFee)
		fields["TermRU"], fields["PowersKK"] = MonthsRU(f.TermMonths), kk
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, fields)
	if err != nil {
		return nil, fmt.Errorf("document: template version %d: %w", f.Format, err)
	}
	return bytes.ReplaceAll(b.Bytes(), []byte("\r\n"), []byte("\n")), nil
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
	text, err := Canonical(f)
	if err != nil {
		return nil, err
	}
	p := newPDF(f, "Доверенность "+f.Code)
	p.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qr))
	p.ImageOptions("qr", 150, 14, 40, 40, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	if err := body(p, f, text, nil); err != nil {
		return nil, err
	}
	p.Ln(6)
	p.SetFont("DejaVu", "B", 10.5)
	if sig != nil {
		p.MultiCell(0, 5.5, "Подписано ЭЦП нотариуса / Нотариустың ЭЦҚ-мен қол қойылған:", "", "L", false)
		p.SetFont("DejaVu", "", 10)
		when := sig.SignedAt.UTC().Format("02.01.2006 15:04") + " UTC"
		if f.Format >= FormatV2 {
			when = DateTime(sig.SignedAt) + " (Алматы)"
		}
		p.MultiCell(0, 5.5, fmt.Sprintf("%s, ИИН %s, %s", sig.SignerName, sig.SignerIIN, when), "", "L", false)
		p.MultiCell(0, 5.5, "Сертификат SHA-256: "+sig.Fingerprint, "", "L", false)
	} else {
		p.MultiCell(0, 5.5, "ПРОЕКТ — не подписан / ЖОБА — қол қойылмаған", "", "L", false)
	}
	return output(p)
}

// DraftMark is how a draft's PDF says it is a draft, in the document's
// languages; the caller takes the words from the pages catalogs.
type DraftMark struct {
	// Mark is set large across the page and above the title, e.g.
	// «ПРОЕКТ / ЖОБА».
	Mark string
	// Note closes the text where a signed document names its signature,
	// e.g. that the draft is not signed and has no code yet.
	Note string
}

// hole stands in for what a draft does not have yet (the document code,
// the public check's address, the history up to approval): the lines that
// hold it are left out of a draft. No UTF-8 text a person writes has it.
const hole = "￿"

// DraftPDF renders a draft as the client reads it before approval: the
// same layout and template as the signed document, with the draft's
// parties, powers, term and amounts, marked as a draft by mark, and
// without what only a signed document has: no document code, no QR code,
// no public check, no signature. f's Code, VerifyURL and HistoryHead are
// ignored. Like PDF it does no I/O.
func DraftPDF(f Facts, mark DraftMark) ([]byte, error) {
	if strings.TrimSpace(mark.Mark) == "" {
		return nil, errors.New("document: a draft needs its mark")
	}
	f.Code, f.VerifyURL, f.HistoryHead = hole, hole, hole
	text, err := Canonical(f)
	if err != nil {
		return nil, err
	}
	p := newPDF(f, mark.Mark)
	// The mark across the page, light, under the text.
	p.SetFont("DejaVu", "B", 64)
	p.SetTextColor(225, 225, 225)
	p.TransformBegin()
	p.TransformRotate(45, 105, 160)
	w := p.GetStringWidth(mark.Mark)
	p.Text(105-w/2, 160, mark.Mark)
	p.TransformEnd()
	p.SetTextColor(0, 0, 0)
	// And above the title, where the QR code of a signed one is.
	p.SetFont("DejaVu", "B", 14)
	p.SetXY(145, 20)
	p.MultiCell(45, 7, mark.Mark, "1", "C", false)
	p.SetXY(20, 18)
	if err := body(p, f, text, func(l string) bool { return !strings.Contains(l, hole) }); err != nil {
		return nil, err
	}
	if mark.Note != "" {
		p.Ln(6)
		p.SetFont("DejaVu", "B", 10.5)
		p.MultiCell(0, 5.5, mark.Note, "", "L", false)
	}
	return output(p)
}

// DraftFacts are the facts of revision rev of s as presented to the client:
// the revision's draft (the one its to_sign bytes carry), the parties and
// the notary, dated when it was presented. The place and template version
// are those the act recorded, else legacy's place with the current version.
// ok is false if rev is not a presented revision.
func DraftFacts(s *act.State, rev int, legacy act.DocumentInputs) (f Facts, ok bool) {
	if rev < 1 || rev > len(s.Revisions) {
		return Facts{}, false
	}
	r := s.Revisions[rev-1]
	in := s.DocumentInputs
	if in.Format == 0 {
		in = legacy
		in.Format = CurrentFormat()
	}
	d := r.Draft
	f = Facts{
		ActID: s.ID, Date: r.At.UTC(), Place: in.Place, Format: in.Format,
		Principal:      Person{IIN: s.Principal.IIN, Name: s.Principal.Name},
		Attorney:       Person{IIN: s.Attorney.IIN, Name: s.Attorney.Name},
		Notary:         Notary{Name: s.Notary.Name, IIN: s.Notary.IIN},
		RegistryNumber: d.RegistryNumber, Powers: d.Powers, PowersKK: d.PowersKK,
		TermMonths: d.TermMonths, StateDuty: d.StateDuty, ServicesFee: d.ServicesFee,
	}
	if f.Attorney.Name == "" && s.Consent != nil {
		f.Attorney.Name = s.Consent.SignerName
	}
	return f, true
}

func newPDF(f Facts, title string) *fpdf.Fpdf {
	p := fpdf.New("P", "mm", "A4", "")
	p.SetTitle(title, true)
	p.SetCreator("Senim", true)
	p.SetCatalogSort(true) // reproducible output: verify re-renders and compares
	p.SetCreationDate(f.Date)
	p.SetModificationDate(f.Date)
	p.AddUTF8FontFromBytes("DejaVu", "", fontRegular)
	p.AddUTF8FontFromBytes("DejaVu", "B", fontBold)
	p.SetMargins(20, 18, 20)
	p.AddPage()
	return p
}

// body sets the canonical text: the title, the subtitle and the code line
// apart, then the rest. keep, if not nil, says which lines are shown.
func body(p *fpdf.Fpdf, f Facts, text []byte, keep func(string) bool) error {
	lines := strings.Split(strings.TrimRight(string(text), "\n"), "\n")
	if len(lines) < 5 { // the layout below sets the first lines apart
		return fmt.Errorf("document: template version %d has %d lines, the PDF needs 5", f.Format, len(lines))
	}
	shown := func(l string) bool { return keep == nil || keep(l) }
	p.SetFont("DejaVu", "B", 15)
	p.MultiCell(125, 8, lines[0], "", "L", false)
	p.SetFont("DejaVu", "", 9.5)
	p.MultiCell(125, 5, lines[1], "", "L", false)
	p.Ln(3)
	if shown(lines[3]) {
		p.SetFont("DejaVu", "B", 11)
		p.MultiCell(125, 6, lines[3], "", "L", false)
	}
	p.SetFont("DejaVu", "", 10.5)
	p.SetY(58)
	lineHeight := 5.5
	for _, l := range lines[4:] {
		if l == "" {
			p.Ln(3)
			continue
		}
		if f.Format >= FormatV2 && l == technicalBlock {
			// Hashes and addresses are for checking, not for reading.
			p.SetFont("DejaVu", "", 7)
			lineHeight = 3.6
		}
		if !shown(l) {
			continue
		}
		p.MultiCell(0, lineHeight, l, "", "L", false)
	}
	return nil
}

func output(p *fpdf.Fpdf) ([]byte, error) {
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
// certificate that signed the consent; place, public address and template
// version are those InputsOf gives.
func FactsOf(s *act.State, legacy act.DocumentInputs) Facts {
	in := InputsOf(s, legacy)
	f := Facts{
		Code: s.DocumentCode, ActID: s.ID, Date: s.DocumentDate.UTC(), Place: in.Place, Format: in.Format,
		Principal:   Person{IIN: s.Principal.IIN, Name: s.Principal.Name},
		Attorney:    Person{IIN: s.Attorney.IIN, Name: s.Attorney.Name},
		Notary:      Notary{Name: s.Notary.Name, IIN: s.Notary.IIN},
		HistoryHead: s.HistoryHead,
		VerifyURL:   verifyURL(in.PublicURL, s.DocumentCode),
	}
	if f.Attorney.Name == "" && s.Consent != nil {
		f.Attorney.Name = s.Consent.SignerName
	}
	if c := s.Current(); c != nil {
		d := c.Draft
		f.RegistryNumber, f.Powers, f.TermMonths, f.StateDuty, f.ServicesFee = d.RegistryNumber, d.Powers, d.TermMonths, d.StateDuty, d.ServicesFee
		f.PowersKK = d.PowersKK
	}
	return f
}

func verifyURL(publicURL, code string) string {
	return strings.TrimRight(publicURL, "/") + "/verify/" + code
}

// InputsOf is what renders the act's document: the inputs it recorded with
// its document code. An act coded before inputs were recorded used version
// 1; if it is signed and the notary's CMS encapsulates the text, its place
// and public address are read back from that text (RecoverV1). Otherwise
// legacy stands in: the configuration the caller has, with version 1,
// which can only be right for an act not signed yet, or signed while the
// configuration was what it still is.
func InputsOf(s *act.State, legacy act.DocumentInputs) act.DocumentInputs {
	if s.DocumentInputs.Format != 0 {
		return s.DocumentInputs
	}
	if s.NotarySig != nil {
		if signed, err := pki.EncapsulatedContent(s.NotarySig.CMS); err == nil {
			if in, ok := RecoverV1(s, signed); ok {
				return in
			}
		}
	}
	legacy.Format = FormatV1
	return legacy
}

// The lines of version 1 that hold the place and the public address.
const (
	v1PlaceLine  = "Место / Орны: "
	v1VerifyLine = "Проверить документ / Құжатты тексеру: "
)

// RecoverV1 reads the place and the public address back from signed, a
// version-1 text of the act's document, and accepts them only if the act's
// facts with them render to signed byte for byte.
func RecoverV1(s *act.State, signed []byte) (act.DocumentInputs, bool) {
	in := act.DocumentInputs{Format: FormatV1}
	var placeOK, urlOK bool
	for _, l := range strings.Split(string(signed), "\n") {
		if v, ok := strings.CutPrefix(l, v1PlaceLine); ok && !placeOK {
			in.Place, placeOK = v, true
		}
		if v, ok := strings.CutPrefix(l, v1VerifyLine); ok && !urlOK {
			in.PublicURL, urlOK = strings.CutSuffix(v, "/verify/"+s.DocumentCode)
		}
	}
	if !placeOK || !urlOK {
		return act.DocumentInputs{}, false
	}
	recorded := *s
	recorded.DocumentInputs = in
	text, err := Canonical(FactsOf(&recorded, act.DocumentInputs{}))
	if err != nil || !bytes.Equal(text, signed) {
		return act.DocumentInputs{}, false
	}
	return in, true
}
