package devca

import (
	"fmt"
	"strings"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/pki"
)

// TemplateRole is the NUC role of a legal entity's registration-certificate
// template (seed 002): first head, signing rights, financial documents, HR,
// employee, Treasury-Client participant. ok is false for an unknown template.
func TemplateRole(t issuance.Template) (role pki.Role, ok bool) {
	switch t {
	case issuance.TemplateFirstHead:
		return pki.RoleFirstHead, true
	case issuance.TemplateSigningRights:
		return pki.RoleSigningRights, true
	case issuance.TemplateFinancial:
		return pki.RoleFinancial, true
	case issuance.TemplateHR:
		return pki.RoleHR, true
	case issuance.TemplateEmployee:
		return pki.RoleEmployee, true
	case issuance.TemplateTreasuryClient:
		return pki.RoleTreasuryClient, true
	}
	return "", false
}

// RequestFor is the holder of a remote application's certificates: the
// subject the server built from the verified identity
// (issuance.BuildSubject), the template (empty for an individual), the
// organisation's name (O=; may be empty until a port to the register of
// legal entities gives it) and the e-mail. remote adds the OID of a holder
// identified remotely (1.2.398.3.3.4.3.2.1). A subject that is not one
// BuildSubject makes (no IIN, a bad IIN or BIN, a BIN without a template or
// the other way round, no name) is refused with the reason.
func RequestFor(s issuance.Subject, t issuance.Template, organization, email string, remote bool) (Request, error) {
	raw, ok := strings.CutPrefix(s.SerialNumber, "IIN")
	if !ok {
		return Request{}, fmt.Errorf("devca: subject serialNumber %q is not IIN<12 digits>", s.SerialNumber)
	}
	id, err := iin.ParseIIN(raw)
	if err != nil {
		return Request{}, fmt.Errorf("devca: subject: %w", err)
	}
	surname := strings.TrimSpace(s.Surname)
	name, ok := strings.CutPrefix(s.CommonName, surname+" ")
	if surname == "" || !ok || strings.TrimSpace(name) == "" {
		return Request{}, fmt.Errorf("devca: subject common name %q is not the surname %q and a name", s.CommonName, s.Surname)
	}
	r := Request{
		IIN: id, Surname: surname, Name: strings.TrimSpace(name), Patronymic: strings.TrimSpace(s.GivenName),
		Email: email, DigitalID: remote,
	}
	switch {
	case s.OrgUnit == "" && t == "":
		r.Role = pki.RoleIndividual
	case s.OrgUnit == "":
		return Request{}, fmt.Errorf("devca: template %q needs the organisation's BIN in the subject", t)
	default:
		rawBIN, ok := strings.CutPrefix(s.OrgUnit, "BIN")
		if !ok {
			return Request{}, fmt.Errorf("devca: subject OU %q is not BIN<12 digits>", s.OrgUnit)
		}
		bin, err := iin.ParseBIN(rawBIN)
		if err != nil {
			return Request{}, fmt.Errorf("devca: subject: %w", err)
		}
		role, ok := TemplateRole(t)
		if !ok {
			return Request{}, fmt.Errorf("devca: a legal entity's certificate needs a known template, not %q", t)
		}
		r.BIN, r.Role, r.Organization = bin, role, strings.TrimSpace(organization)
		r.noOrganization = r.Organization == ""
	}
	return r, r.validate()
}
