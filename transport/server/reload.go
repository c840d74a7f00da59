package server

import (
	"time"

	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// reloadLoop checks the CRL files and the accounts file every
// pki.reload_interval. Both are also re-read on use, but a revocation or a
// removed notary must end open sessions even while nobody signs or signs in:
// a change found here reaches every session through Gateway.Recheck.
func (s *Server) reloadLoop() {
	t := time.NewTicker(s.cfg.PKI.ReloadInterval.Std())
	defer t.Stop()
	failures := map[string]int{}       // by CRL file, as last logged
	versions := map[string]time.Time{} // by CRL file: when the version logged was read
	for {
		select {
		case <-s.stopReload:
			return
		case <-t.C:
		}
		if s.DevCA != nil {
			// Re-issues the dev CA's CRLs before they pass their next
			// update: with pki.require_crl a stale CRL refuses everyone.
			if _, err := devca.Open(s.DevCA.Dir(), s.now()); err != nil {
				s.log.Warn().Err(err).Msg("development CA: CRLs not refreshed")
			}
		}
		s.Trust.Refresh()
		s.Accounts.Refresh()
		for _, f := range s.Trust.CRLFiles() {
			if f.Failures > failures[f.Path] && f.Err != nil {
				s.log.Warn().Err(f.Err).Str("file", f.Path).Time("in_service_since", f.Loaded).
					Msg("a CRL file could not be loaded: its last good version stays in service")
			}
			failures[f.Path] = f.Failures
			if !f.Loaded.Equal(versions[f.Path]) {
				versions[f.Path] = f.Loaded
				for _, l := range f.Lists {
					if l.Ignored != "" {
						s.log.Warn().Str("file", f.Path).Str("issuer", l.Issuer).Str("why", l.Ignored).
							Msg("a CRL is not used: Senim cannot read it whole")
					}
				}
			}
		}
	}
}

// crlMetrics is what /metrics reports of ts's CRL files.
func crlMetrics(ts *pki.TrustStore) []metrics.CRLFile {
	files := ts.CRLFiles()
	out := make([]metrics.CRLFile, len(files))
	for i, f := range files {
		out[i] = metrics.CRLFile{Path: f.Path, Failures: f.Failures, Failing: f.Err != nil}
		for _, l := range f.Lists {
			out[i].Lists = append(out[i].Lists, metrics.CRL{Issuer: l.Issuer, ThisUpdate: l.ThisUpdate, NextUpdate: l.NextUpdate,
				Entries: l.Entries, Ignored: l.Ignored != ""})
		}
	}
	return out
}
