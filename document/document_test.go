package document

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/internal/testtool"
)

var facts = Facts{
	Code: "7K3M-Q9XD-2RPA-T4VB", ActID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", RegistryNumber: "1-2026-0001",
	Date: time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC), Place: "г. Алматы / Алматы қ.",
	Principal:   Person{IIN: "871008401427", Name: "СЕЙТҚАЛИ ӘЙГЕРІМ НҰРЛАНҚЫЗЫ"},
	Attorney:    Person{IIN: "760212350620", Name: "ОМАРОВ ЕРЛАН"},
	Notary:      Notary{Name: "Алия Нотариус", IIN: "791028302728", License: "0001234"},
	Powers:      "Управлять и распоряжаться автомобилем Toyota Camry, госномер 123ABC02; үй-жайды сату (ғ қ ң ө ұ ү һ і).",
	TermMonths:  24,
	StateDuty:   216250,
	ServicesFee: 1297500,
	HistoryHead: "9f2c5d4e3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180",
	VerifyURL:   "http://127.0.0.1:8080/verify/7K3M-Q9XD-2RPA-T4VB",
}

func TestCanonical(t *testing.T) {
	a, b := mustCanonical(t, facts), mustCanonical(t, facts)
	if !bytes.Equal(a, b) {
		t.Fatal("the canonical text is not deterministic")
	}
	text := string(a)
	for _, want := range []string{"СЕЙТҚАЛИ ӘЙГЕРІМ НҰРЛАНҚЫЗЫ", "871008401427", "ОМАРОВ ЕРЛАН", "7K3M-Q9XD-2RPA-T4VB",
		"действительна до 21.11.2028", "2162.50 ₸", "12975.00 ₸", facts.HistoryHead, facts.VerifyURL, "СЕНІМХАТ"} {
		if !strings.Contains(text, want) {
			t.Errorf("canonical text lacks %q", want)
		}
	}
	if bytes.Contains(a, []byte("\r")) {
		t.Error("canonical text has CR")
	}
	other := facts
	other.Powers += "."
	if bytes.Equal(mustCanonical(t, other), a) {
		t.Fatal("different powers, same bytes")
	}
}

func writePDF(t *testing.T, sig *Signature) string {
	t.Helper()
	pdf, err := PDF(facts, sig)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "poa.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// run returns a tool's standard output (zbarimg, for one, chatters about
// dbus on standard error).
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s%s", name, args, err, out, stderr.String())
	}
	return string(out)
}

// Checked by tools nobody here wrote: poppler's pdftotext and pdftoppm,
// zbar's zbarimg, qpdf.
func TestPDFWithPeerTools(t *testing.T) {
	pdftotext := testtool.RequireTool(t, "pdftotext", "poppler-utils")
	pdftoppm := testtool.RequireTool(t, "pdftoppm", "poppler-utils")
	pdffonts := testtool.RequireTool(t, "pdffonts", "poppler-utils")
	zbarimg := testtool.RequireTool(t, "zbarimg", "zbar-tools")
	qpdf := testtool.RequireTool(t, "qpdf", "qpdf")
	p := writePDF(t, &Signature{SignerName: "Алия Нотариус", SignerIIN: "791028302728", Fingerprint: "ab12", SignedAt: facts.Date})

	text := run(t, pdftotext, "-enc", "UTF-8", p, "-")
	for _, want := range []string{"СЕЙТҚАЛИ ӘЙГЕРІМ НҰРЛАНҚЫЗЫ", "ОМАРОВ ЕРЛАН", "871008401427", "760212350620",
		"7K3M-Q9XD-2RPA-T4VB", "ғ қ ң ө ұ ү һ і", "Алия Нотариус", "Подписано ЭЦП нотариуса"} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext does not find %q in:\n%s", want, text)
		}
	}
	fonts := run(t, pdffonts, p)
	if !regexp.MustCompile(`(?m)dejavu\S*\s+CID TrueType\s+Identity-H\s+yes `).MatchString(fonts) {
		t.Errorf("the font is not embedded:\n%s", fonts)
	}
	png := filepath.Join(t.TempDir(), "page")
	run(t, pdftoppm, "-r", "150", "-png", "-singlefile", p, png)
	qr := strings.TrimSpace(run(t, zbarimg, "-q", "--raw", png+".png"))
	if qr != facts.VerifyURL {
		t.Fatalf("the QR code says %q, want %q", qr, facts.VerifyURL)
	}
	if out := run(t, qpdf, "--check", p); !strings.Contains(out, "No syntax or stream encoding errors") {
		t.Fatalf("qpdf --check:\n%s", out)
	}
	// A draft says so.
	if draft := run(t, pdftotext, "-enc", "UTF-8", writePDF(t, nil), "-"); !strings.Contains(draft, "ПРОЕКТ") {
		t.Fatal("an unsigned document does not say it is a draft")
	}
}

// The PDF is reproducible, so that an evidence check can re-render it and
// compare bytes.
func TestPDFIsReproducible(t *testing.T) {
	a, err := PDF(facts, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := PDF(facts, nil)
	if !bytes.Equal(a, b) {
		t.Fatal("two renderings of the same facts differ")
	}
}
