package pki

import (
	"encoding/asn1"
	"fmt"
	"sort"
	"strings"
)

// Role is a NUC role carried as an extended key usage OID.
type Role string

// The roles of Kazakhstan's certificate profile (DOMAIN.md, "Certificates as
// Kazakhstan issues them").
const (
	RoleIndividual    Role = "individual"
	RoleLegalEntity   Role = "legal-entity"
	RoleFirstHead     Role = "first-head"
	RoleSigningRights Role = "signing-rights"
	RoleFinancial     Role = "financial"
	RoleHR            Role = "hr"
	RoleEmployee      Role = "employee"
	RoleDigitalID     Role = "digital-id"
	// RoleTreasuryClient is the participant of the Treasury-Client system
	// («Казначейство – Клиент»), a legal entity's template of its own.
	// DOMAIN.md does not list its OID; 1.2.398.5.19.1.2.2.1 is the one NUC
	// certificates carry, as public NUC tooling reads them.
	RoleTreasuryClient Role = "treasury-client"
)

var roleOIDs = map[Role]asn1.ObjectIdentifier{
	RoleIndividual:     {1, 2, 398, 3, 3, 4, 1, 1},
	RoleLegalEntity:    {1, 2, 398, 3, 3, 4, 1, 2},
	RoleFirstHead:      {1, 2, 398, 3, 3, 4, 1, 2, 1},
	RoleSigningRights:  {1, 2, 398, 3, 3, 4, 1, 2, 2},
	RoleFinancial:      {1, 2, 398, 3, 3, 4, 1, 2, 3},
	RoleHR:             {1, 2, 398, 3, 3, 4, 1, 2, 4},
	RoleEmployee:       {1, 2, 398, 3, 3, 4, 1, 2, 5},
	RoleDigitalID:      {1, 2, 398, 3, 3, 4, 3, 2, 1},
	RoleTreasuryClient: {1, 2, 398, 5, 19, 1, 2, 2, 1},
}

// OID returns the role's object identifier.
func (r Role) OID() asn1.ObjectIdentifier { return roleOIDs[r] }

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { _, ok := roleOIDs[r]; return ok }

// IsLegalEntityRole reports whether r is one of the roles an employee of a
// legal entity holds (all but individual and digital-id).
func (r Role) IsLegalEntityRole() bool {
	return r.Valid() && r != RoleIndividual && r != RoleDigitalID
}

// ParseRole accepts a role name ("first-head") or its dotted OID.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	for r, oid := range roleOIDs {
		if oid.String() == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("pki: unknown role %q (known: %s)", s, strings.Join(RoleNames(), ", "))
}

// RoleNames lists the known role names, sorted.
func RoleNames() []string {
	names := make([]string, 0, len(roleOIDs))
	for r := range roleOIDs {
		names = append(names, string(r))
	}
	sort.Strings(names)
	return names
}

func roleForOID(oid asn1.ObjectIdentifier) (Role, bool) {
	for r, o := range roleOIDs {
		if o.Equal(oid) {
			return r, true
		}
	}
	return "", false
}

// Object identifiers of subject attributes that crypto/x509 has no field for.
var (
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidEmail     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// Well-known extended key usage OIDs, as NCALayer filters use them.
const (
	// EKUClientAuth marks authentication (AUTH_RSA) keys.
	EKUClientAuth = "1.3.6.1.5.5.7.3.2"
	// EKUEmailProtection marks signing (RSA) keys.
	EKUEmailProtection = "1.3.6.1.5.5.7.3.4"
)
