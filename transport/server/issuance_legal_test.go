package server_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/legalreg"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/transport/protocol"
)

const (
	orgBIN   = "990240005438"
	otherBIN = "940140000385"
)

// approverIn signs in with the EDS of an employee of bin in role, and
// returns the session and the keys.
func (w *world) approverIn(id string, bin string, role pki.Role) (*applicant, devca.Pair) {
	w.t.Helper()
	p, err := w.srv.DevCA.IssuePair(devca.Request{IIN: iin.IIN(id), Surname: "Сотрудник", Name: string(role), BIN: iin.BIN(bin),
		Organization: "ТОО Тест", Role: role}, time.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	return &applicant{w: w, c: w.eds("client", client.KeySigner{p.Auth, p.Sign})}, p
}

// approve signs the application's pending approval with key.
func (a *applicant) approve(app string, key *pki.Key) (protocol.Envelope, error) {
	a.w.t.Helper()
	var data struct {
		Step string `json:"step"`
		Data string `json:"data"`
	}
	if err := json.Unmarshal(a.on(app).must("approval_data", nil).Body, &data); err != nil {
		a.w.t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(data.Data)
	cms, err := key.Sign(raw, pki.SignOptions{})
	if err != nil {
		a.w.t.Fatal(err)
	}
	return a.on(app).ask("approve", protocol.Signed{CMS: base64.StdEncoding.EncodeToString(cms)})
}

func TestIssuanceLegalEntityApprovals(t *testing.T) {
	w := newWorld(t)
	if err := w.srv.IssuanceDev.BMG.Register(w.ctx(), clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	// The first head's own template: only the person the register of legal
	// entities names, and not while the register is down.
	c := &applicant{w: w, c: w.dial()}
	firstHead := protocol.IssuanceStart{Kind: "legal_entity", Template: "first_head", BIN: orgBIN, IIN: clientIIN}
	c.refused("start", firstHead, "entity_unknown") // the register does not know the BIN
	reg := w.srv.IssuanceDev.LegalReg
	entity := legalreg.Entity{BIN: orgBIN, NameRu: "ТОО «Тест»", LegalForm: "ТОО", Status: legalreg.StatusActive, Registered: "2001-02-03",
		Head: legalreg.Head{IIN: notaryIIN, Name: "НОТАРИУС АЛИЯ"}}
	if err := reg.Put(entity); err != nil {
		t.Fatal(err)
	}
	c.refused("start", firstHead, "not_first_head") // it names someone else
	reg.SetDown(true)
	c.refused("start", firstHead, "legal_register_unavailable")
	reg.SetDown(false)
	entity.Head = legalreg.Head{IIN: clientIIN, Name: "СЕЙТҚАЛИ ӘЙГЕРІМ"}
	entity.Status = legalreg.StatusLiquidated
	if err := reg.Put(entity); err != nil {
		t.Fatal(err)
	}
	c.refused("start", firstHead, "entity_not_active") // a liquidated entity gets no keys
	c.refused("start", protocol.IssuanceStart{Kind: "legal_entity", Template: "employee", BIN: orgBIN, IIN: clientIIN}, "entity_not_active")
	entity.Status = legalreg.StatusActive
	if err := reg.Put(entity); err != nil {
		t.Fatal(err)
	}
	head1 := w.toApplicationAs(firstHead, "SENIM-FACE:MATCH")
	head1.waitPhase(issuance.PhaseApplication)
	_, hAuth := csr(t, 2048, "IIN"+clientIIN, "BIN"+orgBIN)
	_, hSign := csr(t, 2048, "IIN"+clientIIN, "BIN"+orgBIN)
	head1.must("submit_requests", protocol.IssuanceRequests{CSRs: []protocol.IssuanceCSR{{Purpose: "AUTH", DER: hAuth}, {Purpose: "SIGN", DER: hSign}}})
	if st := head1.waitPhase(issuance.PhaseIssued); st.Template != "first_head" || st.NextApproval != "" {
		t.Fatalf("the first head, without approvals: %+v", st)
	}
	var got struct {
		Certificates []protocol.IssuanceCertificate `json:"certificates"`
	}
	if err := json.Unmarshal(head1.must("certificates", nil).Body, &got); err != nil || len(got.Certificates) != 2 {
		t.Fatalf("certificates: %+v %v", got, err)
	}
	for _, c := range got.Certificates {
		der, _ := base64.StdEncoding.DecodeString(c.DER)
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "ТОО «Тест»" {
			t.Errorf("the %s certificate's O= is %q, want the register's name", c.Purpose, cert.Subject.Organization)
		}
	}

	emp := w.toApplicationAs(protocol.IssuanceStart{Kind: "legal_entity", Template: "employee", BIN: orgBIN, IIN: clientIIN}, "SENIM-FACE:MATCH")
	emp.waitPhase(issuance.PhaseApplication)
	_, auth := csr(t, 2048, "IIN"+clientIIN, "BIN"+orgBIN)
	_, sign := csr(t, 2048, "IIN"+clientIIN, "BIN"+orgBIN)
	emp.must("submit_requests", protocol.IssuanceRequests{CSRs: []protocol.IssuanceCSR{{Purpose: "AUTH", DER: auth}, {Purpose: "SIGN", DER: sign}}})
	if st := emp.waitPhase(issuance.PhaseApprovals); st.NextApproval != "hr" || st.Status != "new" {
		t.Fatalf("waiting for approvals: %+v", st)
	}

	hr, hrKeys := w.approverIn(attorneyIIN, orgBIN, pki.RoleHR)
	head, headKeys := w.approverIn(notaryIIN, orgBIN, pki.RoleFirstHead)
	strangerHR, strangerKeys := w.approverIn(otherIIN, otherBIN, pki.RoleHR)

	// The approvers of the organisation see the case, another's do not.
	if cases := hr.cases("approvals"); len(cases) != 1 || cases[0].Application != emp.app || cases[0].BIN != orgBIN {
		t.Fatalf("HR's list: %+v", cases)
	}
	if cases := strangerHR.cases("approvals"); len(cases) != 0 {
		t.Fatalf("another organisation's HR sees %+v", cases)
	}
	strangerHR.on(emp.app).refused("approval_data", nil, "forbidden")
	// An applicant without an EDS is no approver.
	emp.refused("approve", protocol.Signed{CMS: "MIIB"}, "forbidden")

	// Refusals: the first head before HR, HR with the AUTH key, HR of
	// another BIN (signing this application's bytes all the same).
	if _, err := head.approve(emp.app, headKeys.Sign); client.CodeOf(err) != "approval_order" {
		t.Fatalf("the first head before HR: %v", err)
	}
	if _, err := hr.approve(emp.app, hrKeys.Auth); client.CodeOf(err) != "auth_key" {
		t.Fatalf("HR with the AUTH key: %v", err)
	}
	var data struct{ Data string }
	_ = json.Unmarshal(hr.on(emp.app).must("approval_data", nil).Body, &data)
	raw, _ := base64.StdEncoding.DecodeString(data.Data)
	cms, _ := strangerKeys.Sign.Sign(raw, pki.SignOptions{})
	if _, err := strangerHR.on(emp.app).ask("approve", protocol.Signed{CMS: base64.StdEncoding.EncodeToString(cms)}); client.CodeOf(err) != "other_bin" {
		t.Fatalf("HR of another BIN: %v", err)
	}
	// HR's approval signed by the first head's key is the head's, not HR's.
	cms, _ = headKeys.Sign.Sign(raw, pki.SignOptions{})
	if _, err := hr.on(emp.app).ask("approve", protocol.Signed{CMS: base64.StdEncoding.EncodeToString(cms)}); client.CodeOf(err) != "signer_mismatch" {
		t.Fatalf("HR sending the head's signature: %v", err)
	}

	// HR, then the first head: identified, then issued.
	if _, err := hr.approve(emp.app, hrKeys.Sign); err != nil {
		t.Fatal(err)
	}
	if st := emp.status(); st.NextApproval != "first_head" {
		t.Fatalf("after HR: %+v", st)
	}
	if _, err := head.approve(emp.app, headKeys.Sign); err != nil {
		t.Fatal(err)
	}
	if st := emp.waitPhase(issuance.PhaseIssued); st.Certificates != 2 {
		t.Fatalf("issued: %+v", st)
	}
}
