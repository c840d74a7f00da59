package ncalayer_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/pki/ncalayer"
)

type env struct {
	ts     *pki.TrustStore
	person devca.Pair
	head   devca.Pair
	url    string
	tls    *tls.Config
	signer *ncalayer.Signer
}

// start runs the stand-in with a person's and a first head's keys, over wss
// (secure) or plain ws.
func start(t *testing.T, secure bool) *env {
	t.Helper()
	now := time.Now()
	dir := t.TempDir()
	ca, err := devca.Open(filepath.Join(dir, "ca"), now)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{}
	if e.person, err = ca.IssuePair(devca.Request{IIN: "871008401427", Surname: "Ахметова", Name: "Дана"}, now); err != nil {
		t.Fatal(err)
	}
	if e.head, err = ca.IssuePair(devca.Request{IIN: "760212350620", Surname: "Омаров", Name: "Ерлан",
		BIN: "070941024691", Organization: "АО Банк", Role: pki.RoleFirstHead}, now); err != nil {
		t.Fatal(err)
	}
	if e.ts, err = ca.TrustStore(); err != nil {
		t.Fatal(err)
	}
	e.signer = &ncalayer.Signer{Keys: []*pki.Key{e.person.Auth, e.person.Sign, e.head.Auth, e.head.Sign}, Log: zerolog.Nop()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var cert *tls.Certificate
	scheme := "ws"
	if secure {
		c, err := ncalayer.LoadOrCreateTLS(filepath.Join(dir, "tls"), now)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		pool := x509.NewCertPool()
		pool.AddCert(leaf)
		e.tls = &tls.Config{RootCAs: pool}
		cert, scheme = &c, "wss"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ncalayer.Serve(ctx, ln, e.signer, cert) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	e.url = scheme + "://" + ln.Addr().String() + "/"
	return e
}

func exchange(t *testing.T, ctx context.Context, e *env, msg string) map[string]any {
	t.Helper()
	opts := &websocket.DialOptions{}
	if e.tls != nil {
		opts.HTTPClient = httpClient(e.tls)
	}
	c, _, err := websocket.Dial(ctx, e.url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, greet, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]map[string]string
	if err := json.Unmarshal(greet, &g); err != nil || g["result"]["version"] == "" {
		t.Fatalf("greeting %s", greet)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, reply, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(reply, &out); err != nil {
		t.Fatalf("reply %s: %v", reply, err)
	}
	return out
}

// A request exactly as Kazakh web apps send it to NCALayer.
const appRequest = `{
  "module": "kz.gov.pki.knca.basics",
  "method": "sign",
  "args": {
    "allowedStorages": ["PKCS12", "AKKaztokenStore", "AKKZIDCardStore"],
    "format": "cms",
    "data": "%s",
    "signingParams": {"decode": true, "encapsulate": %t, "digested": false, "tsaProfile": {}},
    "signerParams": {"extKeyUsageOids": [%s], "iin": "%s", "bin": "%s", "chain": []},
    "locale": "ru"
  }
}`

func TestBrowserStyleSignOverWSS(t *testing.T) {
	for _, secure := range []bool{true, false} {
		e := start(t, secure)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The Go client, as the load tool uses it.
		cl, err := ncalayer.Dial(ctx, e.url, e.tls)
		if err != nil {
			t.Fatal(err)
		}
		der, err := cl.SignCMS(ctx, []byte("nonce"), ncalayer.SignerParams{ExtKeyUsageOIDs: []string{pki.EKUClientAuth}}, true)
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		if v, err := e.ts.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeAuth, Live: true}); err != nil || v.IIN != "871008401427" {
			t.Fatalf("client sign-in signature: %v", err)
		}
		doc := []byte("Сенімхат № 0001")
		cases := []struct {
			name     string
			oids     string
			iin, bin string
			attached bool
			purpose  pki.Purpose
			wantIIN  string
		}{
			{"signing key, attached", `"1.3.6.1.5.5.7.3.4"`, "", "", true, pki.PurposeSign, "871008401427"},
			{"auth key, detached", `"1.3.6.1.5.5.7.3.2"`, "", "", false, pki.PurposeAuth, "871008401427"},
			{"first head by role and BIN", `"1.3.6.1.5.5.7.3.4","1.2.398.3.3.4.1.2.1"`, "", "070941024691", true, pki.PurposeSign, "760212350620"},
			{"by IIN", `"1.3.6.1.5.5.7.3.4"`, "760212350620", "", true, pki.PurposeSign, "760212350620"},
		}
		for _, c := range cases {
			msg := sprintf(appRequest, base64.StdEncoding.EncodeToString(doc), c.attached, c.oids, c.iin, c.bin)
			out := exchange(t, ctx, e, msg)
			if out["status"] != true {
				t.Fatalf("secure=%v %s: %v", secure, c.name, out)
			}
			res := out["body"].(map[string]any)["result"].([]any)
			der, err := base64.StdEncoding.DecodeString(res[0].(string))
			if err != nil {
				t.Fatal(err)
			}
			opts := pki.VerifyOptions{Purpose: c.purpose, Live: true}
			if !c.attached {
				// encapsulate:false must leave the content out.
				if _, err := e.ts.Verify(der, opts); pki.CodeOf(err) != pki.CodeMalformed {
					t.Fatalf("%s: detached CMS carries content (%v)", c.name, err)
				}
				opts.Content = doc
			}
			v, err := e.ts.Verify(der, opts)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if v.IIN.String() != c.wantIIN || string(v.Content) != string(doc) {
				t.Fatalf("%s: signed by %s over %q", c.name, v.IIN, v.Content)
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	e := start(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b64 := base64.StdEncoding.EncodeToString([]byte("x"))
	cases := map[string]struct{ msg, code string }{
		"no key for that IIN":   {sprintf(appRequest, b64, true, `"1.3.6.1.5.5.7.3.4"`, "061211600012", ""), ncalayer.CodeNoSuitableKey},
		"no key with that role": {sprintf(appRequest, b64, true, `"1.2.398.3.3.4.1.2.4"`, "", ""), ncalayer.CodeNoSuitableKey},
		"not base64":            {sprintf(appRequest, "@@@", true, "", "", ""), ncalayer.CodeBadData},
		"xml":                   {`{"module":"kz.gov.pki.knca.basics","method":"sign","args":{"format":"xml","data":"<a/>","signingParams":{},"signerParams":{}}}`, ncalayer.CodeUnsupported},
		"no PKCS12 allowed":     {`{"module":"kz.gov.pki.knca.basics","method":"sign","args":{"allowedStorages":["AKKaztokenStore"],"format":"cms","data":"eA==","signingParams":{"decode":true},"signerParams":{}}}`, ncalayer.CodeUnsupported},
		"empty data":            {`{"module":"kz.gov.pki.knca.basics","method":"sign","args":{"format":"cms","data":[],"signingParams":{},"signerParams":{}}}`, ncalayer.CodeBadData},
		"old module":            {`{"module":"kz.gov.pki.knca.commonUtils","method":"signXml","args":["PKCS12","SIGNATURE","<a/>","",""]}`, ncalayer.CodeUnknownModule},
		"unknown method":        {`{"module":"kz.gov.pki.knca.basics","method":"erase","args":{}}`, ncalayer.CodeUnknownMethod},
		"not JSON":              {`{module`, ncalayer.CodeBadRequest},
	}
	for name, c := range cases {
		out := exchange(t, ctx, e, c.msg)
		if out["status"] != false || out["code"] != c.code || out["message"] == "" {
			t.Errorf("%s: %v, want code %s", name, out, c.code)
		}
	}
}

func TestCancelAndManyItems(t *testing.T) {
	e := start(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ncalayer.Dial(ctx, e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Data as an array gives one CMS per item.
	out := exchange(t, ctx, e, `{"module":"kz.gov.pki.knca.basics","method":"sign","args":{"format":"cms","data":["YQ==","Yg=="],"signingParams":{"decode":true,"encapsulate":true},"signerParams":{"extKeyUsageOids":["1.3.6.1.5.5.7.3.4"]}}}`)
	if res := out["body"].(map[string]any)["result"].([]any); len(res) != 2 {
		t.Fatalf("want two signatures, got %v", out)
	}
	// The user says no: status true, no result.
	e.signer.Confirm = func(context.Context, *pki.Key, *ncalayer.SignArgs) bool { return false }
	_, err = c.SignCMS(ctx, []byte("x"), ncalayer.SignerParams{ExtKeyUsageOIDs: []string{pki.EKUEmailProtection}}, true)
	if !errors.Is(err, ncalayer.ErrCancelled) {
		t.Fatalf("want ErrCancelled, got %v", err)
	}
}
