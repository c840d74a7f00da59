package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
)

// What a CRL covers (RFC 5280 §5.2). x509 parses any CRL and leaves its
// extensions to the caller, so a delta CRL or a partitioned one would
// otherwise be read as a complete list of every certificate its issuer
// revoked: a current delta would vouch for certificates its base has not
// been seen for, and a CRL of CA certificates only would vouch for every
// person's. scopeOf reads what each list covers; a list with a critical
// extension it does not know is not used at all, as RFC 5280 requires.

var (
	oidCRLNumber        = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidDeltaCRL         = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidReasonCode       = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidInvalidityDate   = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidHoldInstruction  = asn1.ObjectIdentifier{2, 5, 29, 23}
)

// Reason codes of CRL entries (RFC 5280 §5.3.1) that change a judgement.
const (
	reasonCertificateHold = 6
	reasonRemoveFromCRL   = 8
)

// crlScope is what one CRL covers.
type crlScope struct {
	// unusable is why the list is not used at all ("" when it is): a
	// critical extension Senim does not process, or an indirect CRL (its
	// entries may name another issuer's certificates).
	unusable string
	// deltaBase is, for a delta CRL, the number of the complete CRL it
	// extends: it speaks for the present only beside a complete CRL of
	// that number or later. nil for a complete CRL.
	deltaBase *big.Int
	// onlyUsers and onlyCAs: the list covers end-entity certificates only,
	// or CA certificates only.
	onlyUsers, onlyCAs bool
	// someReasons: the list carries only some reasons for revocation, so
	// its absence of an entry proves nothing.
	someReasons bool
	// points are the URIs of the distribution point the list is for; a
	// certificate that names its own distribution points is covered only
	// if one is among them. Empty: every point.
	points []string
}

// issuingDistributionPoint is RFC 5280's IssuingDistributionPoint.
type issuingDistributionPoint struct {
	DistributionPoint asn1.RawValue  `asn1:"optional,tag:0"`
	OnlyUsers         bool           `asn1:"optional,tag:1"`
	OnlyCAs           bool           `asn1:"optional,tag:2"`
	OnlySomeReasons   asn1.BitString `asn1:"optional,tag:3"`
	Indirect          bool           `asn1:"optional,tag:4"`
	OnlyAttributes    bool           `asn1:"optional,tag:5"`
}

// scopeOf reads what l covers.
func scopeOf(l *x509.RevocationList) crlScope {
	var s crlScope
	for _, e := range l.Extensions {
		switch {
		case e.Id.Equal(oidDeltaCRL):
			base := new(big.Int)
			if rest, err := asn1.Unmarshal(e.Value, &base); err != nil || len(rest) > 0 || base.Sign() < 0 {
				return crlScope{unusable: "a delta CRL indicator that is not a CRL number"}
			}
			s.deltaBase = base
		case e.Id.Equal(oidIssuingDistPoint):
			var idp issuingDistributionPoint
			if rest, err := asn1.Unmarshal(e.Value, &idp); err != nil || len(rest) > 0 {
				return crlScope{unusable: "an issuing distribution point that does not parse"}
			}
			switch {
			case idp.Indirect:
				return crlScope{unusable: "an indirect CRL"}
			case idp.OnlyAttributes:
				return crlScope{unusable: "a CRL of attribute certificates"}
			}
			s.onlyUsers, s.onlyCAs, s.someReasons = idp.OnlyUsers, idp.OnlyCAs, idp.OnlySomeReasons.BitLength > 0
			points, err := pointURIs(idp.DistributionPoint)
			if err != nil {
				return crlScope{unusable: err.Error()}
			}
			s.points = points
		case e.Id.Equal(oidCRLNumber), e.Id.Equal(oidAuthorityKeyID):
		case e.Critical:
			return crlScope{unusable: fmt.Sprintf("a critical extension %s", e.Id)}
		}
	}
	if s.deltaBase != nil && l.Number == nil {
		return crlScope{unusable: "a delta CRL without a CRL number"}
	}
	for i := range l.RevokedCertificateEntries {
		for _, e := range l.RevokedCertificateEntries[i].Extensions {
			known := e.Id.Equal(oidReasonCode) || e.Id.Equal(oidInvalidityDate) || e.Id.Equal(oidHoldInstruction)
			if e.Critical && !known {
				// certificateIssuer (an indirect CRL's entries) among them.
				return crlScope{unusable: fmt.Sprintf("an entry's critical extension %s", e.Id)}
			}
		}
	}
	return s
}

// pointURIs reads the URIs of an issuing distribution point's full name
// (DistributionPointName's fullName [0]: GeneralNames, of which the
// uniformResourceIdentifier [6]). A name relative to the issuer, or none,
// gives none.
func pointURIs(dp asn1.RawValue) ([]string, error) {
	if len(dp.FullBytes) == 0 {
		return nil, nil
	}
	// [0] is a CHOICE, so explicitly tagged: its content is the choice.
	var name asn1.RawValue
	if rest, err := asn1.Unmarshal(dp.Bytes, &name); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("an issuing distribution point's name that does not parse")
	}
	if name.Class != asn1.ClassContextSpecific || name.Tag != 0 {
		return nil, nil // nameRelativeToCRLIssuer
	}
	var uris []string
	for rest := name.Bytes; len(rest) > 0; {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			return nil, fmt.Errorf("an issuing distribution point's name that does not parse")
		}
		if gn.Class == asn1.ClassContextSpecific && gn.Tag == 6 {
			uris = append(uris, string(gn.Bytes))
		}
	}
	return uris, nil
}

// covers reports whether the list speaks for cert: its absence of an entry
// for cert means cert was not revoked.
func (s *crlScope) covers(cert *x509.Certificate) bool {
	switch {
	case s.unusable != "", s.someReasons:
		return false
	case s.onlyUsers && cert.IsCA, s.onlyCAs && !cert.IsCA:
		return false
	case len(s.points) > 0 && len(cert.CRLDistributionPoints) > 0:
		for _, p := range cert.CRLDistributionPoints {
			if slices.Contains(s.points, p) {
				return true
			}
		}
		return false
	}
	return true
}
