package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/evidence"
	"github.com/senim-kz/senim/internal/testserver"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/server"
)

// testFormat2 stands for the next wording of the power of attorney: enough
// lines for the PDF's layout, and the history head the evidence looks for.
const testFormat2 = "ДОВЕРЕННОСТЬ / СЕНІМХАТ (2)\n{{.Code}}\n\n{{.Place}}, {{.Date}}\n" +
	"{{.Principal.Name}} {{.Principal.IIN}} → {{.Attorney.Name}} {{.Attorney.IIN}}: {{.Powers}}\n" +
	"до {{.ValidUntil}}\n{{.VerifyURL}}\n{{.HistoryHead}}\n"

// registerFormat adds a template version for the rest of the test.
func registerFormat(t *testing.T, v int, text string) func() {
	t.Helper()
	remove, err := document.Register(v, text)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
	return remove
}

// restart stops w's server and starts one on the same data directory with
// cfg changed by edit; w then talks to the new one.
func (w *world) restart(t *testing.T, edit func(*config.Config)) config.Config {
	t.Helper()
	if err := w.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := testserver.Config(w.dir, edit)
	srv := testserver.Run(t, cfg, zerolog.Nop(), server.Options{})
	w.srv, w.url, w.http = srv, "ws://"+srv.Addr()+"/ws", "http://"+srv.Addr()
	return cfg
}

// signedText is the text inside the notary's CMS: the bytes signed.
func signedText(t *testing.T, st act.State) []byte {
	t.Helper()
	if st.NotarySig == nil {
		t.Fatalf("act %s is not signed", st.ID)
	}
	text, err := pki.EncapsulatedContent(st.NotarySig.CMS)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// An act signed on a server at its test address, in Almaty, with template
// version 1 stays valid everywhere after the server moves to its https
// address in Astana with a new template: the public check, the PDF and the
// evidence package render what was signed, never today's configuration.
func TestSignedDocumentOutlivesItsConfiguration(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toSigned(t)
	before := w.state(t, cl, actID)
	signed := signedText(t, before)
	cl.CloseNow()
	nt.CloseNow()

	registerFormat(t, 3, testFormat2)
	cfg := w.restart(t, func(c *config.Config) {
		c.Document.PublicURL, c.Document.Place = "https://notary.example.kz", "г. Астана / Астана қ."
	})
	cl = w.eds("client", w.client)
	st := w.state(t, cl, actID)

	// The public check.
	var check server.Check
	getJSON(t, w.http+"/verify/"+before.DocumentCode+"?format=json", http.StatusOK, &check)
	if check.Status != "valid" || check.Signature != "verified" || check.DocumentSHA256 != act.SHA256Hex(signed) {
		t.Fatalf("the check after the move: %+v", check)
	}

	// The PDF prints the signed document (its QR code still names the
	// address it was signed with).
	var doc struct{ Code, PDF string }
	if err := cl.Query(ctx, "document", actID, nil, &doc); err != nil {
		t.Fatal(err)
	}
	got, _ := base64.StdEncoding.DecodeString(doc.PDF)
	want := mustOf[[]byte](t)(document.PDF(document.FactsOf(&st, act.DocumentInputs{}), document.SignatureOf(&st)))
	if !bytes.Equal(got, want) {
		t.Fatal("the PDF is not the document as signed")
	}

	// The evidence package, exported with today's configuration, verifies,
	// and its document.txt is byte for byte the text inside notary.cms.
	recs, err := w.srv.Log.ReadAll("act/" + actID)
	if err != nil {
		t.Fatal(err)
	}
	zipped, err := evidence.Build(recs, cfg.Document.Place, cfg.Document.PublicURL)
	if err != nil {
		t.Fatal(err)
	}
	items, err := evidence.Verify(zipped, w.srv.Trust)
	if err != nil || !evidence.Passed(items) {
		t.Fatalf("the evidence does not verify: %v %+v", err, items)
	}
	files := unzipAll(t, zipped)
	inCMS, err := pki.EncapsulatedContent(files[evidence.FileNotary])
	if err != nil || !bytes.Equal(files[evidence.FileDocument], inCMS) || !bytes.Equal(inCMS, signed) {
		t.Fatalf("document.txt is not the content of notary.cms (%v):\n%s", err, files[evidence.FileDocument])
	}
	for _, s := range []string{"г. Алматы / Алматы қ.", "http://127.0.0.1:8080/verify/" + before.DocumentCode} {
		if !strings.Contains(string(inCMS), s) {
			t.Fatalf("the signed text lacks %q", s)
		}
	}

	// The change took: a new act records and renders the new inputs.
	newID, cl2, _ := w.toSigned(t)
	fresh := w.state(t, cl2, newID)
	if want := (act.DocumentInputs{Place: "г. Астана / Астана қ.", PublicURL: "https://notary.example.kz", Format: 3}); fresh.DocumentInputs != want {
		t.Fatalf("a new act recorded %+v", fresh.DocumentInputs)
	}
	if text := signedText(t, fresh); !strings.HasPrefix(string(text), "ДОВЕРЕННОСТЬ / СЕНІМХАТ (2)\n") ||
		!strings.Contains(string(text), "https://notary.example.kz/verify/"+fresh.DocumentCode) {
		t.Fatalf("the new act signed:\n%s", text)
	}
	getJSON(t, w.http+"/verify/"+fresh.DocumentCode+"?format=json", http.StatusOK, &check)
	if check.Status != "valid" {
		t.Fatalf("the new act's check: %+v", check)
	}
}

func unzipAll(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// The rendering inputs are the server's: what a notary's app sends with
// issue_document_code is overwritten with the configuration's.
func TestRenderingInputsComeFromTheServer(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl, nt := w.toApproval(t)
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_invoice", nil))
	w.pay(t, cl, actID)
	poll(t, "paid", func() bool { s := w.state(t, cl, actID); return s.Paid() })
	mustOf[client.Ack](t)(nt.Command(ctx, actID, "issue_document_code",
		map[string]any{"place": "Лондон", "public_url": "https://evil.example", "format": 99, "code": "MINE"}))
	cfg := config.Default()
	st := w.state(t, cl, actID)
	if want := (act.DocumentInputs{Place: cfg.Document.Place, PublicURL: cfg.Document.PublicURL, Format: document.CurrentFormat()}); st.DocumentInputs != want || st.DocumentCode == "MINE" {
		t.Fatalf("the act recorded %+v and code %q from the client", st.DocumentInputs, st.DocumentCode)
	}
}
