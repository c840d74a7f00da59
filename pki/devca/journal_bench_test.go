package devca

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/pki"
)

// The index as it was before the journal, kept here to be measured side
// by side with it: index.json read, scanned for the key, and rewritten
// whole (fsync, rename) on every issue.
type rewriteIndex struct {
	CRLNumber int64   `json:"crl_number"`
	Certs     []Entry `json:"certs"`
}

func (ca *CA) rewriteRead() (*rewriteIndex, error) {
	data, err := os.ReadFile(ca.path(legacyIndexFile))
	if os.IsNotExist(err) {
		return &rewriteIndex{}, nil
	}
	if err != nil {
		return nil, err
	}
	var idx rewriteIndex
	return &idx, json.Unmarshal(data, &idx)
}

func (ca *CA) rewriteWrite(idx *rewriteIndex) error {
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(ca.path(legacyIndexFile), data, 0o600)
}

var (
	benchKeyOnce sync.Once
	benchKey     *rsa.PrivateKey
)

func benchEntry(i int, now time.Time) Entry {
	return Entry{Serial: fmt.Sprintf("%x", uint64(i)+1<<40), Usage: UsageAuth, IIN: "871008401427", CommonName: "A B",
		Roles: []pki.Role{pki.RoleIndividual}, NotBefore: now, NotAfter: now.Add(DefaultValidity),
		KeyFingerprint: fmt.Sprintf("%064x", i)}
}

// BenchmarkIssue is one issue (the certificate signed, unless index only,
// and its entry recorded durably under the flock) with entries
// certificates in the index already: "rewrite" is the index.json of
// before, "journal" the append-only index.log. Each iteration adds an
// entry, so run it with a fixed -benchtime=Nx small next to entries.
func BenchmarkIssue(b *testing.B) {
	benchKeyOnce.Do(func() {
		var err error
		if benchKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			b.Fatal(err)
		}
	})
	now := time.Now()
	r := Request{IIN: iin.IIN("871008401427"), Surname: "A", Name: "B"}
	for _, sign := range []bool{false, true} {
		for _, n := range []int{1000, 5000} {
			for _, mode := range []string{"rewrite", "journal"} {
				what := "index-only"
				if sign {
					what = "with-signing"
				}
				b.Run(fmt.Sprintf("%s/entries=%d/%s", what, n, mode), func(b *testing.B) {
					ca, err := Open(b.TempDir(), now)
					if err != nil {
						b.Fatal(err)
					}
					pre := make([]Entry, n)
					for i := range pre {
						pre[i] = benchEntry(i, now)
					}
					err = ca.locked(func() error {
						if mode == "rewrite" {
							return ca.rewriteWrite(&rewriteIndex{CRLNumber: 1, Certs: pre})
						}
						if _, err := ca.readIndex(); err != nil {
							return err
						}
						rs := make([]record, n)
						for i := range pre {
							rs[i] = record{Issue: &pre[i]}
						}
						return ca.appendRecords(rs...)
					})
					if err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						e := benchEntry(n+i, now)
						err := ca.locked(func() error {
							if sign {
								if _, err := ca.certify(r, KeyFor{Usage: UsageAuth, Public: &benchKey.PublicKey}, now); err != nil {
									return err
								}
							}
							if mode == "rewrite" {
								idx, err := ca.rewriteRead()
								if err != nil {
									return err
								}
								for _, c := range idx.Certs {
									if c.KeyFingerprint == e.KeyFingerprint {
										return ErrKeyCertified
									}
								}
								idx.Certs = append(idx.Certs, e)
								return ca.rewriteWrite(idx)
							}
							idx, err := ca.readIndex()
							if err != nil {
								return err
							}
							if idx.keySeen(e.KeyFingerprint) {
								return ErrKeyCertified
							}
							return ca.appendRecords(record{Issue: &e})
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
