package loadgen

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/server"
)

// person is one simulated individual: their IIN and their two keys.
type person struct {
	IIN  string
	Keys client.KeySigner
}

// notaryAccount is one simulated notary: a password account and a signing key.
type notaryAccount struct {
	Login, Password string
	person
}

// makeIIN builds the n-th valid IIN of the tool's range: born in 1990 on a
// day drawn from n, century-and-sex digit 3 or 4, serial from n. The check
// digit rule rejects some serials; the caller skips those.
func makeIIN(n int) (string, bool) {
	day := n % 365
	d := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day)
	first11 := fmt.Sprintf("%02d%02d%02d%d%04d", d.Year()%100, int(d.Month()), d.Day(), 3+(n/365)%2, (n/730)%10000)
	c, ok := iin.CheckDigit(first11)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s%d", first11, c), true
}

// iins returns count distinct valid IINs starting from the n-th of the range.
func iins(from, count int) []string {
	out := make([]string, 0, count)
	for n := from; len(out) < count; n++ {
		if s, ok := makeIIN(n); ok {
			out = append(out, s)
		}
	}
	return out
}

// openCA opens the server's development CA under dataDir, refusing to make
// one: a fresh CA would issue keys the server does not trust.
func openCA(dataDir string, now time.Time) (*devca.CA, error) {
	dir := filepath.Join(dataDir, "devca")
	if _, err := os.Stat(dir); err != nil {
		return nil, fatal(CodeNoDevCA, "%s: %v (--data must be the server's data_dir)", dir, err)
	}
	ca, err := devca.Open(dir, now)
	if err != nil {
		return nil, fatal(CodeNoDevCA, "%s: %v", dir, err)
	}
	return ca, nil
}

// issue makes count people with keys from ca, in parallel (RSA key
// generation is the slow part); when register is set it also puts them in
// the registry stand-in, where submit_application looks up their names.
func issue(ca *devca.CA, dataDir string, ids []string, register bool, now time.Time) ([]person, error) {
	out := make([]person, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if keys, ok := cachedPair(ca, dataDir, id, now); ok {
				out[i] = person{IIN: id, Keys: keys}
				return
			}
			p, err := ca.IssuePair(devca.Request{IIN: iin.IIN(id), Surname: "Нагрузка", Name: fmt.Sprintf("Тест%d", i)}, now)
			if err != nil {
				errs[i] = err
				return
			}
			out[i] = person{IIN: id, Keys: client.KeySigner{p.Auth, p.Sign}}
			_ = keepPair(dataDir, id, out[i].Keys) // only a cache
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fatal(CodeSetup, "issue keys: %v", err)
		}
	}
	if register {
		path := server.RegistryPath(dataDir)
		for i, p := range out {
			if err := registry.Add(path, registry.Person{IIN: p.IIN, Surname: "Нагрузка", Name: fmt.Sprintf("Тест%d", i)}); err != nil {
				return nil, fatal(CodeSetup, "registry: %v", err)
			}
		}
	}
	return out, nil
}

// addNotaries gives each notary a fresh random password in the server's
// accounts file (replacing an earlier run's), as `senim notary add` does.
func addNotaries(dataDir string, people []person, now time.Time) ([]notaryAccount, error) {
	out := make([]notaryAccount, len(people))
	for i, p := range people {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		n := notaryAccount{Login: fmt.Sprintf("load%03d", i+1), Password: hex.EncodeToString(b), person: p}
		if err := accounts.Add(server.AccountsPath(dataDir), accounts.Notary{Login: n.Login, Name: fmt.Sprintf("Нагрузка Нотариус %d", i+1), IIN: p.IIN}, n.Password, now); err != nil {
			return nil, fatal(CodeSetup, "accounts: %v", err)
		}
		out[i] = n
	}
	return out, nil
}
