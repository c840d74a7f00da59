package ca_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/web"
)

// The page the test opens: the app's files, and one empty page to run the
// module in (WebCrypto needs a secure context: 127.0.0.1 is one).
const blank = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>csr</title></head><body></body></html>`

// The browser makes the applicant's keys and requests with
// web/static/issuance/csr.js; the server's ParseCSR takes them (signature,
// RSA-2048, the IIN and BIN, the purpose's usage), and the development CA
// certifies the browser's own public keys.
func TestBrowserMakesRequestsTheCATakes(t *testing.T) {
	chromium := testtool.RequireTool(t, "chromium", "chromium")
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(web.Static()))
	mux.HandleFunc("GET /csr-test.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(blank))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Env(testtool.BrowserTMPDIR(t)), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", "new"), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-component-update", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// A bound on a hung browser on a busy machine, not a speed limit.
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(cancelTimeout)

	script := `(async () => {
	  const m = await import('/issuance/csr.js');
	  const keys = await m.makeApplicantKeys({ iin: '871008401427', bin: '940140000385' });
	  const locked = await m.makeApplicantKeys({ iin: '871008401427' }, { extractable: false });
	  let lockedExport = 'exported';
	  try { await m.exportPKCS8(locked.AUTH.keyPair); } catch (e) { lockedExport = e.name; }
	  return {
	    auth: m.base64(keys.AUTH.csr), sign: m.base64(keys.SIGN.csr),
	    auth_pkcs8: m.base64(await m.exportPKCS8(keys.AUTH.keyPair)),
	    locked: m.base64(locked.SIGN.csr), locked_export: lockedExport,
	  };
	})()`
	if _, err := chromedp.Run(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/csr-test.html")); err != nil {
		t.Fatal(err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	der := func(name string) []byte {
		b, err := base64.StdEncoding.DecodeString(out[name])
		if err != nil || len(b) == 0 {
			t.Fatalf("%s from the browser: %q %v", name, out[name], err)
		}
		return b
	}

	var keys []ca.KeyRequest
	for _, p := range []issuance.KeyPurpose{issuance.KeyAUTH, issuance.KeySIGN} {
		d := der(map[issuance.KeyPurpose]string{issuance.KeyAUTH: "auth", issuance.KeySIGN: "sign"}[p])
		facts, _, err := ca.ParseCSR(d, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if facts.Algorithm != "RSA" || facts.KeyBits != 2048 || facts.SubjectIIN != "871008401427" || facts.SubjectBIN != "940140000385" {
			t.Fatalf("%s: facts %+v", p, facts)
		}
		keys = append(keys, ca.KeyRequest{Purpose: p, DER: d})
	}
	// The usage asked for is the purpose's: an AUTH request is no SIGN one.
	if _, _, err := ca.ParseCSR(keys[0].DER, issuance.KeySIGN); !errors.Is(err, ca.ErrBadCSR) {
		t.Fatalf("the AUTH request taken as SIGN: %v", err)
	}
	if facts, _, err := ca.ParseCSR(der("locked"), issuance.KeySIGN); err != nil || facts.SubjectBIN != "" {
		t.Fatalf("a non-extractable key's request: %+v %v", facts, err)
	}
	if out["locked_export"] != "InvalidAccessError" {
		t.Fatalf("exporting a non-extractable key: %s", out["locked_export"])
	}

	dir := t.TempDir()
	authority, err := devca.Open(filepath.Join(dir, "devca"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ca.NewDev(authority, filepath.Join(dir, "requests"), ca.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := dev.Submit(context.Background(), ca.Request{
		ApplicationID: hex.EncodeToString(make([]byte, 16)), Template: issuance.TemplateEmployee, RemoteIdentified: true,
		Subject: issuance.Subject{SerialNumber: "IIN871008401427", CommonName: "ИВАНОВ ИВАН", Surname: "ИВАНОВ", OrgUnit: "BIN940140000385"},
		Keys:    keys,
	})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := dev.Fetch(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	// The exported private key is the one the AUTH certificate is for.
	priv, err := x509.ParsePKCS8PrivateKey(der("auth_pkcs8"))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := x509.ParseCertificate(certs[0].DER)
	if err != nil {
		t.Fatal(err)
	}
	if rk, ok := priv.(*rsa.PrivateKey); !ok || !rk.PublicKey.Equal(auth.PublicKey) {
		t.Fatal("the AUTH certificate is not for the browser's key")
	}
	if roles := pki.RolesOf(auth); !slices.Equal(roles, []pki.Role{pki.RoleLegalEntity, pki.RoleEmployee, pki.RoleDigitalID}) {
		t.Fatalf("roles %v", roles)
	}
}
