package server

import (
	"time"

	"github.com/senim-kz/senim/pki/devca"
)

// reloadLoop checks the CRL files and the accounts file every
// pki.reload_interval. Both are also re-read on use, but a revocation or a
// removed notary must end open sessions even while nobody signs or signs in:
// a change found here reaches every session through Gateway.Recheck.
func (s *Server) reloadLoop() {
	t := time.NewTicker(s.cfg.PKI.ReloadInterval.Std())
	defer t.Stop()
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
	}
}
