package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"

	"github.com/senim-kz/senim/domain/iin"
)

// Subject is the holder of a certificate, read the NUC way.
//
// NUC writes the IIN as serialNumber=IIN<12 digits>, the holder's surname and
// name in CN, the surname again in SURNAME and the patronymic in GIVENNAME.
// Certificates of a legal entity's employees add O=<organisation> and
// OU=BIN<12 digits>.
type Subject struct {
	IIN          iin.IIN
	BIN          iin.BIN // empty for an individual
	CommonName   string  // "SURNAME NAME"
	Surname      string
	GivenName    string // the patronymic, by NUC convention
	Organization string
	Email        string
	Country      string
}

// FullName is the name as a person reads it: surname, name and patronymic.
func (s Subject) FullName() string {
	name := strings.TrimSpace(strings.TrimPrefix(s.CommonName, s.Surname))
	parts := []string{s.Surname, name, s.GivenName}
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return s.CommonName
	}
	return strings.Join(out, " ")
}

// PkixName renders the subject as a distinguished name in NUC order.
func (s Subject) PkixName() pkix.Name {
	n := pkix.Name{
		CommonName:   s.CommonName,
		SerialNumber: "IIN" + s.IIN.String(),
	}
	if s.Country != "" {
		n.Country = []string{s.Country}
	}
	if s.Organization != "" {
		n.Organization = []string{s.Organization}
	}
	if s.BIN != "" {
		n.OrganizationalUnit = []string{"BIN" + s.BIN.String()}
	}
	if s.Surname != "" {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidSurname, Value: s.Surname})
	}
	if s.GivenName != "" {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidGivenName, Value: s.GivenName})
	}
	if s.Email != "" {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidEmail, Value: s.Email})
	}
	return n
}

// SubjectOf reads the NUC subject of cert. A certificate without a valid
// serialNumber=IIN… is refused with CodeMalformed; so is an OU=BIN… whose
// BIN fails its check digit.
func SubjectOf(cert *x509.Certificate) (Subject, error) {
	n := cert.Subject
	s := Subject{CommonName: n.CommonName}
	if len(n.Country) > 0 {
		s.Country = n.Country[0]
	}
	if len(n.Organization) > 0 {
		s.Organization = n.Organization[0]
	}
	raw, ok := strings.CutPrefix(n.SerialNumber, "IIN")
	if !ok {
		return Subject{}, refuse(CodeMalformed, nil, "certificate subject has no serialNumber=IIN… (got %q)", n.SerialNumber)
	}
	id, err := iin.ParseIIN(raw)
	if err != nil {
		return Subject{}, refuse(CodeMalformed, err, "certificate subject IIN is invalid")
	}
	s.IIN = id
	for _, ou := range n.OrganizationalUnit {
		if raw, ok := strings.CutPrefix(ou, "BIN"); ok {
			bin, err := iin.ParseBIN(raw)
			if err != nil {
				return Subject{}, refuse(CodeMalformed, err, "certificate subject BIN is invalid")
			}
			s.BIN = bin
		}
	}
	for _, atv := range n.Names {
		v, _ := atv.Value.(string)
		switch {
		case atv.Type.Equal(oidSurname):
			s.Surname = v
		case atv.Type.Equal(oidGivenName):
			s.GivenName = v
		case atv.Type.Equal(oidEmail):
			s.Email = v
		}
	}
	return s, nil
}

// RolesOf lists the NUC roles in cert's extended key usage, in certificate order.
func RolesOf(cert *x509.Certificate) []Role {
	var roles []Role
	for _, oid := range cert.UnknownExtKeyUsage {
		if r, ok := roleForOID(oid); ok {
			roles = append(roles, r)
		}
	}
	return roles
}

// String renders the subject as NUC tools print it, with the attributes that
// crypto/x509 would show as hex named: "CN=…, SURNAME=…, SERIALNUMBER=IIN…,
// C=KZ, G=…, O=…, OU=BIN…, E=…". Empty attributes are left out.
func (s Subject) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("CN", s.CommonName)
	add("SURNAME", s.Surname)
	add("SERIALNUMBER", "IIN"+s.IIN.String())
	add("C", s.Country)
	add("G", s.GivenName)
	add("O", s.Organization)
	if s.BIN != "" {
		add("OU", "BIN"+s.BIN.String())
	}
	add("E", s.Email)
	return strings.Join(parts, ", ")
}
