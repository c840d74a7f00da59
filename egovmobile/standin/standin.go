// Package standin plays eGov mobile for development and tests: given a
// signing link (the QR text, the deep link or the API URL) it fetches what
// is to be signed, shows it, asks for the PIN, signs with keys from .p12
// files and sends the CMS back. It speaks only the public protocol of
// package egovmobile, so what works with it works with the phone.
package standin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/senim-kz/senim/egovmobile"
	"github.com/senim-kz/senim/pki"
)

// DevPIN is the stand-in's fixed PIN: the phone's PIN or biometrics stand
// between the owner and their cloud key, and the stand-in keeps that step.
const DevPIN = "000000"

// ErrWrongPIN refuses a signature when the PIN is not DevPIN.
var ErrWrongPIN = errors.New("standin: wrong PIN: nothing was signed")

// ErrNoKey means none of the keys fits the purpose of a document.
var ErrNoKey = errors.New("standin: no key for this purpose")

// maxBody bounds what the stand-in reads from a server.
const maxBody = 4 << 20

// RefusedError is the server's refusal of a request, with its stable code.
type RefusedError struct {
	Status  int
	Code    string
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("standin: refused (%d) %s: %s", e.Status, e.Code, e.Message)
}

// CodeOf returns the code of a *RefusedError in err's chain, "" if none.
func CodeOf(err error) string {
	var r *RefusedError
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

// Fetch reads a link's descriptor and its documents, as the phone does
// before showing them to its owner.
func Fetch(ctx context.Context, link string) (egovmobile.Descriptor, egovmobile.Documents, error) {
	var d egovmobile.Descriptor
	var docs egovmobile.Documents
	api := egovmobile.APIURL(link)
	if api == "" {
		return d, docs, fmt.Errorf("standin: %q is not a signing link (a mobileSign: QR text, an eGov mobile deep link or an http(s) URL)", link)
	}
	if err := call(ctx, http.MethodGet, api, nil, &d); err != nil {
		return d, docs, err
	}
	if err := call(ctx, http.MethodGet, d.Document.URI, nil, &docs); err != nil {
		return d, docs, err
	}
	return d, docs, nil
}

// Sign does what the phone's owner does with a link: fetch it, read it
// (written to out), unlock with the PIN, sign every document with the key
// its purpose asks for and send the signatures back. keys are the owner's
// keys (the authentication and the signing key, as devca issues them).
func Sign(ctx context.Context, link string, keys []*pki.Key, pin string, out io.Writer) error {
	d, docs, err := Fetch(ctx, link)
	if err != nil {
		return err
	}
	Show(out, d, docs)
	if pin != DevPIN {
		return ErrWrongPIN
	}
	signed, err := SignDocuments(docs, keys)
	if err != nil {
		return err
	}
	if err := Put(ctx, d.Document.URI, signed); err != nil {
		return err
	}
	fmt.Fprintln(out, "signed and sent")
	return nil
}

// Show writes what is to be signed, in Russian and Kazakh, as the phone
// shows it.
func Show(out io.Writer, d egovmobile.Descriptor, docs egovmobile.Documents) {
	fmt.Fprintf(out, "%s\n%s (BIN %s)\nuntil %s\n", d.Description, d.Organisation.NameRu, d.Organisation.BIN, d.ExpiryDate.Format("2006-01-02 15:04:05 MST"))
	for _, doc := range docs.DocumentsToSign {
		fmt.Fprintf(out, "\n[%d] %s / %s (%s)\n", doc.ID, doc.NameRu, doc.NameKz, docs.SignMethod)
		for _, m := range doc.Meta {
			fmt.Fprintf(out, "  %s: %s\n", m.Name, m.Value)
		}
		if data, err := base64.StdEncoding.DecodeString(doc.Document.File.Data); err == nil && doc.Document.File.Mime == "text/plain" {
			fmt.Fprintf(out, "---\n%s\n---\n", data)
		}
	}
}

// SignDocuments returns docs with each document's data replaced by the
// base64 CMS over it: attached for CMS_WITH_DATA, detached for
// CMS_SIGN_ONLY, made with the key the document's purpose asks for.
func SignDocuments(docs egovmobile.Documents, keys []*pki.Key) (egovmobile.Documents, error) {
	if docs.SignMethod != egovmobile.MethodWithData && docs.SignMethod != egovmobile.MethodSignOnly {
		return docs, fmt.Errorf("standin: unknown signMethod %q", docs.SignMethod)
	}
	out := docs
	out.DocumentsToSign = slices.Clone(docs.DocumentsToSign)
	for i, doc := range out.DocumentsToSign {
		data, err := base64.StdEncoding.DecodeString(doc.Document.File.Data)
		if err != nil {
			return docs, fmt.Errorf("standin: document %d: data is not base64", doc.ID)
		}
		k := KeyFor(keys, doc.Purpose())
		if k == nil {
			return docs, fmt.Errorf("%w %q", ErrNoKey, doc.Purpose())
		}
		cms, err := k.Sign(data, pki.SignOptions{Detached: docs.SignMethod == egovmobile.MethodSignOnly})
		if err != nil {
			return docs, err
		}
		out.DocumentsToSign[i].Document.File.Data = base64.StdEncoding.EncodeToString(cms)
	}
	return out, nil
}

// KeyFor picks the key for a purpose: the one with the clientAuth extended
// key usage for "auth", the one with nonRepudiation for anything else.
func KeyFor(keys []*pki.Key, purpose string) *pki.Key {
	for _, k := range keys {
		c := k.Certificate
		auth := slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		sign := c.KeyUsage&x509.KeyUsageContentCommitment != 0
		if (purpose == egovmobile.PurposeAuth && auth) || (purpose != egovmobile.PurposeAuth && sign) {
			return k
		}
	}
	return nil
}

// Put sends signed documents to a document URL.
func Put(ctx context.Context, docURL string, docs egovmobile.Documents) error {
	body, err := json.Marshal(docs)
	if err != nil {
		return err
	}
	return call(ctx, http.MethodPut, docURL, body, nil)
}

func call(ctx context.Context, method, u string, body []byte, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("standin: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("standin: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("standin: %s %s: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e egovmobile.ErrorBody
		_ = json.Unmarshal(b, &e)
		return &RefusedError{Status: resp.StatusCode, Code: e.Code, Message: e.Message}
	}
	if into == nil {
		return nil
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("standin: %s %s: not the protocol's JSON: %w", method, u, err)
	}
	return nil
}
