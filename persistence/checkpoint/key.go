package checkpoint

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// LoadKey reads the configured signing key: a PKCS#12 file and a file
// holding its password (trailing newline ignored).
func LoadKey(p12, passwordFile string) (*pki.Key, error) {
	pw, err := os.ReadFile(passwordFile)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: password_file: %w", err)
	}
	k, err := pki.LoadPKCS12(p12, strings.TrimRight(string(pw), "\r\n"))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: p12: %w", err)
	}
	return k, nil
}

// Development key files, under DevKeyDir.
const (
	devP12      = "checkpoint.p12"
	devPassword = "checkpoint.password"
)

// DevKeyDir is where the development checkpoint key lives under data_dir.
func DevKeyDir(dataDir string) string { return filepath.Join(dataDir, "checkpoint") }

// DevKeyFiles are the development key's PKCS#12 and password file.
func DevKeyFiles(dataDir string) (p12, passwordFile string) {
	return filepath.Join(DevKeyDir(dataDir), devP12), filepath.Join(DevKeyDir(dataDir), devPassword)
}

// DevKey is the development server's checkpoint key: issued by the
// development CA to a stand-in organisation on first use and kept in dir
// (a PKCS#12 and its random password), loaded afterwards.
func DevKey(ca *devca.CA, dir string, now time.Time) (*pki.Key, error) {
	p12, pwFile := filepath.Join(dir, devP12), filepath.Join(dir, devPassword)
	if _, err := os.Stat(p12); err == nil {
		return LoadKey(p12, pwFile)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k, err := ca.Issue(devca.Request{IIN: "871008401427", Surname: "Senim", Name: "Checkpoint", BIN: "940140000385",
		Organization: "Senim (development)", Role: pki.RoleSigningRights, Validity: 10 * 365 * 24 * time.Hour}, devca.UsageSign, now)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: development key: %w", err)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	pw := hex.EncodeToString(b)
	der, err := pki.EncodePKCS12(k, pw)
	if err != nil {
		return nil, err
	}
	// The password first: a p12 without it would be a key nobody can open.
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		return nil, err
	}
	tmp := p12 + ".tmp"
	if err := os.WriteFile(tmp, der, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, p12); err != nil {
		return nil, err
	}
	return k, nil
}
