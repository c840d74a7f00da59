package pki

// ChainBuilds is how many times ts had x509 build a signer's chains.
func ChainBuilds(ts *TrustStore) int64 { return ts.chains.builds.Load() }

// CRLCounts is how many times ts looked at its CRL files to see whether
// they changed, and how many times it read them, over every file.
func CRLCounts(ts *TrustStore) (checks, reads int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, f := range ts.crls {
		checks += f.checks
		reads += f.reads
	}
	return checks, reads
}
