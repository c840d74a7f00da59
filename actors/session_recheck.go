package actors

import (
	"crypto/x509"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/transport/protocol"
)

// Recheck asks a session to re-judge who it was signed in as: sent to every
// session when the CRLs or the notaries' accounts change. A session whose
// sign-in certificate is no longer accepted (revoked, expired, revocation
// unknown) or whose notary account is gone is closed with 1008 and a reason
// that starts with a stable code, because an identity proven once must not
// outlive its revocation.
type Recheck struct{}

func (s *sessionActor) recheck() {
	if !s.signedIn {
		return
	}
	var code, why string
	switch {
	case s.cert != nil:
		// The chain the sign-in came with supplies intermediates; the store
		// rebuilds and judges every chain again, as Verify does.
		cert, chain, err := parseCertificates(s.cert, s.certChain)
		if err == nil {
			err = s.deps.Trust.CheckCertificate(cert, chain, s.deps.Now())
		}
		if err == nil {
			return
		}
		code, why = string(pki.CodeOf(err)), "the sign-in certificate is no longer accepted"
		s.log.Warn().Err(err).Str("code", code).Msg("closing the session: sign-in certificate refused on recheck")
	case s.me.Role == act.RoleNotary || s.me.Role == act.RoleStaff:
		n, ok := s.sd.Accounts.Get(s.me.ID)
		if ok && accountRole(n) == s.me.Role {
			return
		}
		code, why = protocol.CodeAccountRemoved, "the notary's account was removed"
		if ok {
			why = "the account's roles changed: sign in again"
		}
		s.log.Warn().Str("code", code).Msg("closing the session: notary account removed")
	default:
		return
	}
	// The error frame is for apps that read frames; the close reason (at
	// most 123 bytes on the wire) for those that only see the close.
	s.send(protocol.Envelope{Type: protocol.TypeError, Code: code, Message: why})
	s.flushHeld()
	s.conn.Close(code + ": " + why)
}

// parseCertificates parses a sign-in certificate and the chain
// certificates kept with it (DER).
func parseCertificates(cert []byte, chain [][]byte) (*x509.Certificate, []*x509.Certificate, error) {
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*x509.Certificate, 0, len(chain))
	for _, der := range chain {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, x)
	}
	return c, out, nil
}
