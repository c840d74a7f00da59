package issuance

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// ApprovalBytes are the bytes an approver signs for step: the application,
// the person, the organisation, the template and the public keys to be
// certified. The step is in the text, so that the HR employee's approval
// cannot stand for the first head's. What is signed is defined here only.
func ApprovalBytes(s *State, step ApprovalStep) []byte {
	fps := make([]string, 0, len(s.CSRs))
	for _, c := range s.CSRs {
		fps = append(fps, string(c.Purpose)+" "+c.Fingerprint)
	}
	sort.Strings(fps)
	var b strings.Builder
	b.WriteString("Senim: approval of a remote EDS application\n")
	b.WriteString("application: " + s.ID + "\n")
	b.WriteString("step: " + string(step) + "\n")
	b.WriteString("bin: " + s.BIN + "\n")
	b.WriteString("iin: " + s.IIN + "\n")
	b.WriteString("template: " + string(s.Template) + "\n")
	if s.Subject != nil {
		b.WriteString("name: " + s.Subject.CommonName + " " + s.Subject.GivenName + "\n")
	}
	for _, f := range fps {
		b.WriteString("key: " + f + "\n")
	}
	return []byte(b.String())
}

// SHA256Hex is the lower-case hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// BuildSubject is the certificate subject for the verified person: the
// server builds it from the confirmed document fields and the application's
// BIN, never from a request.
func BuildSubject(s *State, f DocumentFields) Subject {
	sub := Subject{
		SerialNumber: "IIN" + s.IIN,
		CommonName:   strings.TrimSpace(strings.ToUpper(f.Surname + " " + f.Name)),
		Surname:      strings.ToUpper(f.Surname),
		GivenName:    strings.ToUpper(f.Patronymic),
	}
	if s.Kind == KindLegalEntity {
		sub.OrgUnit = "BIN" + s.BIN
	}
	return sub
}
