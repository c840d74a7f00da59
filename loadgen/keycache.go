package loadgen

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// The keys the tool issues are kept in the server's data directory, under
// loadgen-keys/, one PEM file per person (their two private keys and
// certificates): a later run against the same data directory takes them
// instead of generating four thousand RSA keys again, which on a small box
// took minutes before the first act. A kept pair is used only while the
// current development CA is its issuer and it is valid for another day;
// otherwise the person gets fresh keys and the file is replaced.

// keyCacheDir is the folder of the kept keys in dataDir.
func keyCacheDir(dataDir string) string { return filepath.Join(dataDir, "loadgen-keys") }

// cachedPair returns the kept pair of the person with IIN id, or false.
func cachedPair(ca *devca.CA, dataDir, id string, now time.Time) (client.KeySigner, bool) {
	if _, err := iin.ParseIIN(id); err != nil { // the file name comes from the IIN: digits only
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(keyCacheDir(dataDir), id+".pem"))
	if err != nil {
		return nil, false
	}
	var keys client.KeySigner
	for len(keys) < 2 {
		var kb, cb *pem.Block
		kb, b = pem.Decode(b)
		if kb == nil || kb.Type != "PRIVATE KEY" {
			return nil, false
		}
		cb, b = pem.Decode(b)
		if cb == nil || cb.Type != "CERTIFICATE" {
			return nil, false
		}
		k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return nil, false
		}
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			return nil, false
		}
		signer, ok := k.(crypto.Signer)
		if !ok || !bytes.Equal(cert.RawIssuer, ca.Intermediate().RawSubject) || cert.CheckSignatureFrom(ca.Intermediate()) != nil ||
			now.Add(24*time.Hour).After(cert.NotAfter) {
			return nil, false
		}
		keys = append(keys, &pki.Key{Certificate: cert, Chain: []*x509.Certificate{ca.Intermediate(), ca.Root()}, PrivateKey: signer})
	}
	return keys, true
}

// keepPair writes a person's pair for later runs; a failure only costs
// the next run the key generation.
func keepPair(dataDir, id string, keys client.KeySigner) error {
	if _, err := iin.ParseIIN(id); err != nil {
		return errors.New("loadgen: not an IIN")
	}
	var buf bytes.Buffer
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.PrivateKey)
		if err != nil {
			return err
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			return err
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate.Raw}); err != nil {
			return err
		}
	}
	dir := keyCacheDir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".pair-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, id+".pem")); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("loadgen: keeping keys: %w", err)
	}
	return nil
}
