package pki

// ChainBuilds is how many times ts had x509 build a signer's chains.
func ChainBuilds(ts *TrustStore) int64 { return ts.chains.builds.Load() }

// CRLChecks is how many times ts looked at its CRL files to see whether
// they changed, over every file.
func CRLChecks(ts *TrustStore) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for _, f := range ts.crls {
		n += f.checks
	}
	return n
}

// CRLReads is how many times ts read its CRL files, over every file.
func CRLReads(ts *TrustStore) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for _, f := range ts.crls {
		n += f.reads
	}
	return n
}
