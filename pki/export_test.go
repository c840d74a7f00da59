package pki

// ChainBuilds is how many times ts had x509 build a signer's chains.
func ChainBuilds(ts *TrustStore) int64 { return ts.chains.builds.Load() }
