package pki_test

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/senim-kz/senim/pki"
)

// A national CA's CRL lists every certificate it ever revoked and has not
// yet seen expire: hundreds of thousands of entries. These tests and
// benchmarks judge signatures against such lists.

// bigCRL writes a CRL of ca, valid for an hour, that revokes n random
// 20-byte serials (the size RFC 5280 allows and national CAs use) an hour
// ago, then every entry of also.
func bigCRL(tb testing.TB, ca *testCA, n int, also ...x509.RevocationListEntry) string {
	tb.Helper()
	entries := make([]x509.RevocationListEntry, 0, n+len(also))
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	buf := make([]byte, 20)
	for range n {
		if _, err := rand.Read(buf); err != nil {
			tb.Fatal(err)
		}
		buf[0] &= 0x7f // positive, as RFC 5280 requires
		entries = append(entries, x509.RevocationListEntry{SerialNumber: new(big.Int).SetBytes(buf), RevocationTime: at})
	}
	entries = append(entries, also...)
	return writeCRLs(tb, ca, crlSpec{number: nextSerial().Int64(), nextUpdate: time.Now().Add(time.Hour), entries: entries})
}

// BenchmarkVerifyLargeCRL is one signature judged against a root whose CRL
// has n entries, none of them the signer.
//
//	go test ./pki -run '^$' -bench VerifyLargeCRL -benchtime 200x -count 3
func BenchmarkVerifyLargeCRL(b *testing.B) {
	root := mkCA(b, "Large CRL Root", fx.head.Auth.PrivateKey, nil, 0)
	k := mkSigner(b, root, 0)
	der := mustSign(b, k, benchDoc, false)
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			ts := storeOf(b, []*x509.Certificate{root.cert}, nil, bigCRL(b, root, n))
			ts.RequireCRL(true)
			b.ResetTimer()
			for b.Loop() {
				if _, err := ts.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadLargeCRL reads a CRL of 100,000 entries into a store and
// reports the heap the store keeps for it.
//
//	go test ./pki -run '^$' -bench LoadLargeCRL -benchtime 3x -count 3
func BenchmarkLoadLargeCRL(b *testing.B) {
	root := mkCA(b, "Large CRL Root", fx.head.Auth.PrivateKey, nil, 0)
	p := bigCRL(b, root, 100_000)
	var kept uint64
	b.ResetTimer()
	for b.Loop() {
		before := heapInUse()
		ts := storeOf(b, []*x509.Certificate{root.cert}, nil, p)
		after := heapInUse()
		runtime.KeepAlive(ts)
		kept += after - min(before, after)
	}
	b.ReportMetric(float64(kept)/float64(b.N)/1e6, "MB-kept")
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A signer listed among 50,000 other revocations is refused, from the time
// of its revocation on; and a serial listed twice counts from its earlier
// entry.
func TestLargeCRLRevokes(t *testing.T) {
	root := mkCA(t, "Large CRL Root", fx.head.Auth.PrivateKey, nil, 0)
	k := mkSigner(t, root, 0)
	revokedAt := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	ts := storeOf(t, []*x509.Certificate{root.cert}, nil, bigCRL(t, root, 50_000,
		x509.RevocationListEntry{SerialNumber: k.Certificate.SerialNumber, RevocationTime: revokedAt.Add(20 * time.Minute)},
		x509.RevocationListEntry{SerialNumber: k.Certificate.SerialNumber, RevocationTime: revokedAt}))
	ts.RequireCRL(true)
	der := mustSign(t, k, []byte("revoked among many"), false)
	_, err := ts.Verify(der, pki.VerifyOptions{Live: true})
	wantCode(t, err, pki.CodeRevoked)
	if err := ts.CheckCertificate(k.Certificate, nil, revokedAt.Add(-time.Second)); err != nil {
		t.Fatalf("judged a second before its earliest revocation: %v", err)
	}
	wantCode(t, ts.CheckCertificate(k.Certificate, nil, revokedAt), pki.CodeRevoked)

	other := mkSigner(t, root, 0)
	if _, err := ts.Verify(mustSign(t, other, []byte("not listed"), false), pki.VerifyOptions{Live: true}); err != nil {
		t.Fatalf("a signer the CRL does not list: %v", err)
	}
}

// A store keeps what it needs of a CRL, not x509's two parsed copies of
// every entry: 100,000 entries kept 31.5 MB of heap before, about 8 now.
func TestLargeCRLHeapIsBounded(t *testing.T) {
	root := mkCA(t, "Large CRL Root", fx.head.Auth.PrivateKey, nil, 0)
	p := bigCRL(t, root, 100_000)
	before := heapInUse()
	ts := storeOf(t, []*x509.Certificate{root.cert}, nil, p)
	after := heapInUse()
	runtime.KeepAlive(ts)
	kept := after - min(before, after)
	const limit = 16 << 20
	if kept > limit {
		t.Fatalf("the store keeps %.1f MB for a CRL of 100,000 entries, want at most %d MB", float64(kept)/1e6, limit>>20)
	}
	t.Logf("kept %.1f MB (%d bytes an entry)", float64(kept)/1e6, kept/100_000)
}

// Each judgement looks at each CRL file once, not once for every link of
// the chain it judges.
func TestCRLFilesCheckedOncePerJudgement(t *testing.T) {
	ts, err := fx.ca.TrustStore()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := pki.CRLCounts(ts) // one look each when added
	der := mustSign(t, fx.person.Sign, []byte("x"), false)
	for i := 1; i <= 3; i++ {
		res, err := ts.Verify(der, pki.VerifyOptions{Live: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Chain) < 3 {
			t.Fatalf("the fixture's chain has %d certificates; this test needs two links or more", len(res.Chain))
		}
		if got, _ := pki.CRLCounts(ts); got != files*(i+1) {
			t.Fatalf("after %d verifications the %d CRL files were looked at %d times, want %d", i, files, got, files*(i+1))
		}
	}
}

// BenchmarkCheckCertificateLargeCRL is one re-judgement of a signed-in
// session's certificate (what every open session gets when a CRL changes)
// against a root whose CRL has 100,000 entries.
//
//	go test ./pki -run '^$' -bench CheckCertificateLargeCRL -benchtime 200x -count 3
func BenchmarkCheckCertificateLargeCRL(b *testing.B) {
	root := mkCA(b, "Large CRL Root", fx.head.Auth.PrivateKey, nil, 0)
	k := mkSigner(b, root, 0)
	ts := storeOf(b, []*x509.Certificate{root.cert}, nil, bigCRL(b, root, 100_000))
	ts.RequireCRL(true)
	at := time.Now()
	b.ResetTimer()
	for b.Loop() {
		if err := ts.CheckCertificate(k.Certificate, nil, at); err != nil {
			b.Fatal(err)
		}
	}
}

// A CRL file that stops parsing (a download cut short) keeps its last good
// version in service, is read once per broken version rather than on every
// verification, and is reported until a good version replaces it.
func TestBrokenCRLKeepsTheLastGoodVersion(t *testing.T) {
	root := mkCA(t, "Broken CRL Root", fx.head.Auth.PrivateKey, nil, 0)
	k := mkSigner(t, root, 0)
	path := bigCRL(t, root, 1_000)
	ts := storeOf(t, []*x509.Certificate{root.cert}, nil, path)
	ts.RequireCRL(true)
	der := mustSign(t, k, []byte("x"), false)
	live := pki.VerifyOptions{Live: true}
	status := func() pki.CRLFile {
		t.Helper()
		files := ts.CRLFiles()
		if len(files) != 1 {
			t.Fatalf("%d CRL files reported, want 1", len(files))
		}
		return files[0]
	}
	if s := status(); s.Path != path || len(s.Lists) != 1 || s.Lists[0].Entries != 1_000 || s.Lists[0].Issuer != "Broken CRL Root" ||
		s.Lists[0].NextUpdate.Before(time.Now()) || s.Failures != 0 || s.Err != nil || s.Loaded.IsZero() {
		t.Fatalf("a good file reported as %+v", s)
	}

	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := ts.Verify(der, live); err != nil {
			t.Fatalf("with the file cut short, the last good CRL should judge: %v", err)
		}
	}
	if _, got := pki.CRLCounts(ts); got != 2 {
		t.Fatalf("the file was read %d times (the good version, then the cut one once), want 2", got)
	}
	if s := status(); s.Failures != 1 || s.Err == nil || len(s.Lists) != 1 || s.Lists[0].Entries != 1_000 {
		t.Fatalf("a cut file reported as %+v", s)
	}

	// A new good version, which revokes the signer, is read and judged by.
	newer := bigCRL(t, root, 10, x509.RevocationListEntry{SerialNumber: k.Certificate.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	b, err := os.ReadFile(newer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ts.Verify(der, live)
	wantCode(t, err, pki.CodeRevoked)
	if s := status(); s.Failures != 1 || s.Err != nil || s.Lists[0].Entries != 11 {
		t.Fatalf("a replaced file reported as %+v", s)
	}

	// A file that is gone keeps its last version too, and is one failure.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err = ts.Verify(der, live)
		wantCode(t, err, pki.CodeRevoked)
	}
	if s := status(); s.Failures != 2 || s.Err == nil {
		t.Fatalf("a removed file reported as %+v", s)
	}
}
