package pki_test

import (
	"testing"

	"github.com/senim-kz/senim/pki"
)

// Sign and verify throughput, RSA-2048 with SHA-256, a 1 KiB document.
// Verify includes chain building and the CRL check.
//
//	go test ./pki -run '^$' -bench . -benchtime 2s

var benchDoc = make([]byte, 1024)

func BenchmarkSign(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := fx.person.Sign.Sign(benchDoc, pki.SignOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signs/s")
}

func BenchmarkVerify(b *testing.B) {
	der := mustSign(b, fx.person.Sign, benchDoc, false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fx.ts.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

func BenchmarkVerifyParallel(b *testing.B) {
	der := mustSign(b, fx.person.Sign, benchDoc, false)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := fx.ts.Verify(der, pki.VerifyOptions{Purpose: pki.PurposeSign, Live: true}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}
