package act

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	t0        = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rules     = DefaultRules()
	client    = Actor{Role: RoleClient, ID: "871008401427", IIN: "871008401427", Name: "СЕЙТҚАЛИ ӘЙГЕРІМ"}
	attorney  = Actor{Role: RoleAttorney, ID: "760212350620", IIN: "760212350620"}
	notary    = Actor{Role: RoleNotary, ID: "aliya", IIN: "791028302728", Name: "Алия Нотариус"}
	notary2   = Actor{Role: RoleNotary, ID: "bolat", IIN: "061211600012"}
	stranger  = Actor{Role: RoleClient, ID: "061211600012", IIN: "061211600012"}
	strangerA = Actor{Role: RoleAttorney, ID: "061211600012", IIN: "061211600012"}
	bank      = Actor{Role: RoleBank, ID: "kaspi"}
	system    = Actor{Role: RoleSystem}
)

func sig(signer string, content []byte) Signature {
	return Signature{CMS: []byte{0x30}, SignerIIN: signer, ContentSHA256: SHA256Hex(content), SignedAt: t0}
}

func submitCmd() SubmitApplication {
	c := SubmitApplication{ActID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", ActionType: ActionPowerOfAttorney, Phone: "+7 701 234 56 78", AttorneyIIN: attorney.IIN, Consent: true}
	c.Signature = sig(client.IIN, ApplicationBytes(c.ActID, c.ActionType, client.IIN, c.Phone, c.AttorneyIIN, c.Consent))
	return c
}

func money(v Money) *Money { return &v }

// The steps of the happy path, each a function of the state so far.
var happy = []struct {
	name string
	by   Actor
	cmd  func(s *State) Command
}{
	{"submitted", client, func(*State) Command { return submitCmd() }},
	{"consented", attorney, func(s *State) Command { return GiveConsent{Signature: sig(attorney.IIN, ConsentBytes(s))} }},
	{"waiting", client, func(*State) Command { return RequestCall{} }},
	{"in_call", notary, func(*State) Command { return AcceptCall{} }},
	{"recorded", system, func(*State) Command { return StartRecording{Recording: "rec-1"} }},
	{"looked_up", notary, func(*State) Command { return RecordRegistryCheck{IIN: client.IIN, Found: true} }},
	{"doc_shown", notary, func(*State) Command { return RecordCheck{Check: CheckDocumentShown, Passed: true} }},
	{"capacity", notary, func(*State) Command { return RecordCheck{Check: CheckLegalCapacity, Passed: true} }},
	{"explained", notary, func(*State) Command { return RecordCheck{Check: CheckRightsExplained, Passed: true} }},
	{"drafted", notary, func(*State) Command {
		return PresentDraft{RegistryNumber: "1-2026-0001", Powers: "Управлять автомобилем", TermMonths: 24}
	}},
	{"approved", client, func(s *State) Command {
		return ApproveDraft{Revision: 1, Signature: sig(client.IIN, DraftBytes(s, 1))}
	}},
	{"invoiced", notary, func(*State) Command { return IssueInvoice{InvoiceID: "inv-1"} }},
	{"paid", bank, func(s *State) Command {
		return RecordPayment{InvoiceID: "inv-1", PaymentID: "pay-1", Amount: s.Invoice.Amount}
	}},
	{"coded", notary, func(*State) Command { return IssueDocumentCode{Code: "SNM-ABCD-EFGH"} }},
	{"signed", notary, func(s *State) Command { return SignAct{Signature: sig(notary.IIN, DocumentBytes(s))} }},
	{"recording_done", system, func(*State) Command { return FinishRecording{Recording: "rec-1", Files: []RecordingFile{recFile}} }},
}

var recFile = RecordingFile{Participant: "client:871008401427", Kind: "video", Codec: "video/VP8", File: "client-871008401427-video-1.ivf",
	SHA256: strings.Repeat("ab", 32), Bytes: 1234, DurationMS: 60000}

// at returns the state after the named happy-path step.
func at(t *testing.T, step string) State {
	t.Helper()
	var s State
	for _, h := range happy {
		s = mustApply(t, s, h.by, h.cmd(&s))
		if h.name == step {
			return s
		}
	}
	t.Fatalf("no step %q", step)
	return s
}

func mustApply(t *testing.T, s State, by Actor, cmd Command) State {
	t.Helper()
	events, err := Decide(s, by, cmd, t0, rules)
	if err != nil {
		t.Fatalf("%s by %s: %v", cmd.CommandName(), by, err)
	}
	for _, e := range events {
		s = Apply(s, e)
	}
	return s
}

func TestHappyPath(t *testing.T) {
	s := at(t, "signed")
	if s.Phase != PhaseSigned || s.Notary.ID != "aliya" || s.DocumentCode != "SNM-ABCD-EFGH" || s.Call != CallOver {
		t.Fatalf("final state: phase %s notary %s code %s call %s", s.Phase, s.Notary.ID, s.DocumentCode, s.Call)
	}
	if s.Principal.Phone != "+77012345678" {
		t.Errorf("phone %q not normalised", s.Principal.Phone)
	}
	want := rules.InMRP(0.5) + rules.InMRP(3) // 2,162.50 + 12,975.00 ₸
	if s.Invoice.Amount != want || want != 1513750 {
		t.Errorf("invoice %d, want %d tiyn", s.Invoice.Amount, want)
	}
	if s.Current().Draft.TermMonths != 24 {
		t.Errorf("term %d", s.Current().Draft.TermMonths)
	}
}

// Each transition: the events a command produces at a step, by type.
func TestTransitions(t *testing.T) {
	cases := []struct {
		name, at string
		by       Actor
		cmd      func(s *State) Command
		want     []string
	}{
		{"submit opens the act and asks for consent", "", client, func(*State) Command { return submitCmd() }, []string{"application_submitted", "consent_requested"}},
		{"attorney refuses consent", "submitted", attorney, func(*State) Command { return RefuseConsent{Reason: "не знаю его"} }, []string{"consent_refused"}},
		{"client ends the call", "in_call", client, func(*State) Command { return EndCall{} }, []string{"call_ended"}},
		{"notary ends the call", "in_call", notary, func(*State) Command { return EndCall{} }, []string{"call_ended"}},
		{"a failed check is recorded", "in_call", notary, func(*State) Command {
			return RecordCheck{Check: CheckRegistryLookup, Passed: false, Note: "нет в ГБД ФЛ"}
		}, []string{"check_recorded"}},
		{"changes requested", "drafted", client, func(*State) Command {
			return RequestChanges{Revision: 1, Comments: "добавить право продажи"}
		}, []string{"changes_requested"}},
		{"a second revision", "drafted", notary, func(*State) Command {
			return PresentDraft{RegistryNumber: "1-2026-0001", Powers: "Продать автомобиль"}
		}, []string{"draft_presented"}},
		{"a revision with another amount voids an unpaid invoice", "invoiced", notary, func(*State) Command {
			return PresentDraft{RegistryNumber: "1", Powers: "x", ServicesFee: money(100)}
		}, []string{"invoice_voided", "draft_presented"}},
		{"a revision with the same amount after payment", "paid", notary, func(*State) Command {
			return PresentDraft{RegistryNumber: "1", Powers: "исправлена опечатка"}
		}, []string{"draft_presented"}},
		{"invoice re-issued before payment", "invoiced", notary, func(*State) Command { return IssueInvoice{InvoiceID: "inv-2"} }, []string{"invoice_issued"}},
		{"duplicate bank callback changes nothing", "paid", bank, func(s *State) Command {
			return RecordPayment{InvoiceID: "inv-1", PaymentID: "pay-1", Amount: s.Invoice.Amount}
		}, nil},
		{"duplicate callback after signing changes nothing", "signed", bank, func(s *State) Command {
			return RecordPayment{InvoiceID: "inv-1", PaymentID: "pay-1", Amount: s.Invoice.Amount}
		}, nil},
		{"document code is issued once", "coded", notary, func(*State) Command { return IssueDocumentCode{Code: "OTHER"} }, nil},
		{"notary refuses", "approved", notary, func(*State) Command { return RefuseAct{Reason: "недееспособен"} }, []string{"act_refused"}},
		{"client cancels", "paid", client, func(*State) Command { return CancelAct{Reason: "передумал"} }, []string{"act_cancelled"}},
		{"client cancels before consent", "submitted", client, func(*State) Command { return CancelAct{Reason: "ошибся"} }, []string{"act_cancelled"}},
		{"principal revokes the signed power of attorney", "signed", client, func(s *State) Command {
			return RevokePOA{Reason: "утратил доверие", Signature: sig(client.IIN, RevocationBytes(s))}
		}, []string{"poa_revoked"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s State
			if c.at != "" {
				s = at(t, c.at)
			}
			events, err := Decide(s, c.by, c.cmd(&s), t0, rules)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range events {
				got = append(got, e.EventType())
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("events %v, want %v", got, c.want)
			}
		})
	}
	t.Run("the call is re-requested and goes to the same notary", func(t *testing.T) {
		s := mustApply(t, at(t, "drafted"), client, EndCall{})
		s = mustApply(t, s, client, RequestCall{})
		if _, err := Decide(s, notary2, AcceptCall{}, t0, rules); code(err) != CodeWrongNotary {
			t.Fatalf("another notary took the act's call: %v", err)
		}
		s = mustApply(t, s, notary, AcceptCall{})
		if s.Call != CallActive || s.Notary.ID != "aliya" {
			t.Fatalf("call %s notary %s", s.Call, s.Notary.ID)
		}
	})
	t.Run("a new revision voids the approval", func(t *testing.T) {
		s := mustApply(t, at(t, "approved"), notary, PresentDraft{RegistryNumber: "1", Powers: "новые полномочия"})
		if s.CurrentApproved() {
			t.Fatal("approval of revision 1 still counts for revision 2")
		}
		if _, err := Decide(s, notary, IssueInvoice{InvoiceID: "i"}, t0, rules); code(err) != CodeDraftNotApproved {
			t.Fatalf("invoice without approval: %v", err)
		}
	})
}

func code(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Every refusal, with its code.
func TestRefusals(t *testing.T) {
	sub := func(edit func(*SubmitApplication)) func(*State) Command {
		return func(*State) Command {
			c := submitCmd()
			edit(&c)
			c.Signature = sig(client.IIN, ApplicationBytes(c.ActID, c.ActionType, client.IIN, c.Phone, c.AttorneyIIN, c.Consent))
			return c
		}
	}
	cases := []struct {
		name, at string
		by       Actor
		cmd      func(s *State) Command
		want     Code
	}{
		// Application.
		{"attorney IIN with a wrong check digit", "", client, sub(func(c *SubmitApplication) { c.AttorneyIIN = "940140000380" }), CodeBadIINChecksum},
		{"attorney IIN too short", "", client, sub(func(c *SubmitApplication) { c.AttorneyIIN = "94014000038" }), CodeBadIIN},
		{"attorney is the principal", "", client, sub(func(c *SubmitApplication) { c.AttorneyIIN = client.IIN }), CodeBadAttorney},
		{"bad phone", "", client, sub(func(c *SubmitApplication) { c.Phone = "+7 495 123 45 67" }), CodeBadPhone},
		{"no consent", "", client, sub(func(c *SubmitApplication) { c.Consent = false }), CodeConsentRequired},
		{"other action", "", client, sub(func(c *SubmitApplication) { c.ActionType = "will" }), CodeUnsupportedAction},
		{"no act id", "", client, sub(func(c *SubmitApplication) { c.ActID = "" }), CodeBadActID},
		{"act id with a path", "", client, sub(func(c *SubmitApplication) { c.ActID = "../../../../tmp/x" }), CodeBadActID},
		{"act id in upper case", "", client, sub(func(c *SubmitApplication) { c.ActID = "0F1E2D3C4B5A69788796A5B4C3D2E1F0" }), CodeBadActID},
		{"act id too short", "", client, sub(func(c *SubmitApplication) { c.ActID = "0f1e2d3c4b5a69788796a5b4c3d2e1f" }), CodeBadActID},
		{"act id too long", "", client, sub(func(c *SubmitApplication) { c.ActID = "0f1e2d3c4b5a69788796a5b4c3d2e1f00" }), CodeBadActID},
		{"act id not hex", "", client, sub(func(c *SubmitApplication) { c.ActID = "0f1e2d3c4b5a69788796a5b4c3d2e1fg" }), CodeBadActID},
		{"application signed by someone else", "", client, func(*State) Command { c := submitCmd(); c.Signature.SignerIIN = stranger.IIN; return c }, CodeSignerMismatch},
		{"signature over another application", "", client, func(*State) Command { c := submitCmd(); c.Phone = "+77019999999"; return c }, CodeContentMismatch},
		{"principal with a bad IIN", "", Actor{Role: RoleClient, IIN: "123"}, func(*State) Command { return submitCmd() }, CodeBadIIN},
		{"a notary submits", "", notary, func(*State) Command { return submitCmd() }, CodeForbidden},
		{"submit twice", "submitted", client, func(*State) Command { return submitCmd() }, CodeNotAllowedInState},
		{"command for no act", "", client, func(*State) Command { return RequestCall{} }, CodeNoSuchAct},
		// Consent.
		{"consent over other bytes", "submitted", attorney, func(*State) Command { return GiveConsent{Signature: sig(attorney.IIN, []byte("x"))} }, CodeContentMismatch},
		{"consent signed by the principal", "submitted", attorney, func(s *State) Command { return GiveConsent{Signature: sig(client.IIN, ConsentBytes(s))} }, CodeSignerMismatch},
		{"consent twice", "consented", attorney, func(s *State) Command { return GiveConsent{Signature: sig(attorney.IIN, ConsentBytes(s))} }, CodeNotAllowedInState},
		{"refuse consent after giving it", "consented", attorney, func(*State) Command { return RefuseConsent{} }, CodeNotAllowedInState},
		// Call.
		{"call before consent", "submitted", client, func(*State) Command { return RequestCall{} }, CodeNotAllowedInState},
		{"call twice", "waiting", client, func(*State) Command { return RequestCall{} }, CodeNotAllowedInState},
		{"accept with nobody waiting", "consented", notary, func(*State) Command { return AcceptCall{} }, CodeNotAllowedInState},
		{"second notary accepts", "in_call", notary2, func(*State) Command { return AcceptCall{} }, CodeWrongNotary},
		{"accept twice", "in_call", notary, func(*State) Command { return AcceptCall{} }, CodeNotAllowedInState},
		{"end a call that is not active", "waiting", client, func(*State) Command { return EndCall{} }, CodeNotAllowedInState},
		// Checks.
		{"unknown check", "in_call", notary, func(*State) Command { return RecordCheck{Check: "palm_reading", Passed: true} }, CodeBadCheck},
		// Drafts.
		{"draft without powers", "in_call", notary, func(*State) Command { return PresentDraft{RegistryNumber: "1"} }, CodeBadDraft},
		{"draft without registry number", "in_call", notary, func(*State) Command { return PresentDraft{Powers: "x"} }, CodeBadDraft},
		{"term over three years", "in_call", notary, func(*State) Command { return PresentDraft{RegistryNumber: "1", Powers: "x", TermMonths: 37} }, CodeTermTooLong},
		{"negative term", "in_call", notary, func(*State) Command { return PresentDraft{RegistryNumber: "1", Powers: "x", TermMonths: -1} }, CodeBadDraft},
		{"negative duty", "in_call", notary, func(*State) Command { return PresentDraft{RegistryNumber: "1", Powers: "x", StateDuty: money(-1)} }, CodeBadDraft},
		{"nothing to pay", "in_call", notary, func(*State) Command {
			return PresentDraft{RegistryNumber: "1", Powers: "x", StateDuty: money(0), ServicesFee: money(0)}
		}, CodeBadDraft},
		{"draft before any call", "consented", notary, func(*State) Command { return PresentDraft{RegistryNumber: "1", Powers: "x"} }, CodeForbidden},
		{"amount change after payment", "paid", notary, func(*State) Command { return PresentDraft{RegistryNumber: "1", Powers: "x", ServicesFee: money(1)} }, CodeFeesLocked},
		// Approval.
		{"approve a stale revision", "drafted", client, func(s *State) Command { return ApproveDraft{Revision: 2, Signature: sig(client.IIN, DraftBytes(s, 2))} }, CodeStaleRevision},
		{"approve with no draft", "in_call", client, func(s *State) Command { return ApproveDraft{Revision: 1} }, CodeNotAllowedInState},
		{"approval over other bytes", "drafted", client, func(s *State) Command { return ApproveDraft{Revision: 1, Signature: sig(client.IIN, []byte("x"))} }, CodeContentMismatch},
		{"approval signed by the attorney", "drafted", client, func(s *State) Command {
			return ApproveDraft{Revision: 1, Signature: sig(attorney.IIN, DraftBytes(s, 1))}
		}, CodeSignerMismatch},
		{"approve twice", "approved", client, func(s *State) Command { return ApproveDraft{Revision: 1, Signature: sig(client.IIN, DraftBytes(s, 1))} }, CodeAlreadyApproved},
		{"changes on an approved revision", "approved", client, func(*State) Command { return RequestChanges{Revision: 1, Comments: "x"} }, CodeAlreadyApproved},
		{"changes without comments", "drafted", client, func(*State) Command { return RequestChanges{Revision: 1} }, CodeReasonRequired},
		{"changes on a stale revision", "drafted", client, func(*State) Command { return RequestChanges{Revision: 7, Comments: "x"} }, CodeStaleRevision},
		// Invoice and payment.
		{"invoice before approval", "drafted", notary, func(*State) Command { return IssueInvoice{InvoiceID: "i"} }, CodeDraftNotApproved},
		{"invoice after payment", "paid", notary, func(*State) Command { return IssueInvoice{InvoiceID: "i2"} }, CodeAlreadyPaid},
		{"payment for another invoice", "invoiced", bank, func(s *State) Command {
			return RecordPayment{InvoiceID: "nope", PaymentID: "p", Amount: s.Invoice.Amount}
		}, CodeUnknownInvoice},
		{"payment of the wrong amount", "invoiced", bank, func(s *State) Command {
			return RecordPayment{InvoiceID: "inv-1", PaymentID: "p", Amount: s.Invoice.Amount - 1}
		}, CodeAmountMismatch},
		{"a second payment", "paid", bank, func(s *State) Command {
			return RecordPayment{InvoiceID: "inv-1", PaymentID: "pay-2", Amount: s.Invoice.Amount}
		}, CodeAlreadyPaid},
		{"payment with no invoice", "approved", bank, func(*State) Command { return RecordPayment{InvoiceID: "inv-1", PaymentID: "p", Amount: 1} }, CodeUnknownInvoice},
		// Signing.
		{"sign before approval", "drafted", notary, func(s *State) Command { return SignAct{Signature: sig(notary.IIN, DocumentBytes(s))} }, CodeDraftNotApproved},
		{"sign before payment", "invoiced", notary, func(s *State) Command { return SignAct{Signature: sig(notary.IIN, DocumentBytes(s))} }, CodeNotPaid},
		{"code before payment", "approved", notary, func(*State) Command { return IssueDocumentCode{Code: "X"} }, CodeNotPaid},
		{"sign before the code", "paid", notary, func(s *State) Command { return SignAct{Signature: sig(notary.IIN, DocumentBytes(s))} }, CodeNoDocumentCode},
		{"sign over other bytes", "coded", notary, func(s *State) Command { return SignAct{Signature: sig(notary.IIN, []byte("x"))} }, CodeContentMismatch},
		{"sign with someone else's key", "coded", notary, func(s *State) Command { return SignAct{Signature: sig(client.IIN, DocumentBytes(s))} }, CodeSignerMismatch},
		{"sign twice", "signed", notary, func(s *State) Command { return SignAct{Signature: sig(notary.IIN, DocumentBytes(s))} }, CodeNotAllowedInState},
		// Ends.
		{"refuse without a reason", "in_call", notary, func(*State) Command { return RefuseAct{} }, CodeReasonRequired},
		{"refuse after signing", "signed", notary, func(*State) Command { return RefuseAct{Reason: "x"} }, CodeNotAllowedInState},
		{"cancel after signing", "signed", client, func(*State) Command { return CancelAct{} }, CodeNotAllowedInState},
		{"revoke before signing", "coded", client, func(s *State) Command { return RevokePOA{Signature: sig(client.IIN, RevocationBytes(s))} }, CodeNotAllowedInState},
		{"revocation over other bytes", "signed", client, func(*State) Command { return RevokePOA{Reason: "x", Signature: sig(client.IIN, []byte("x"))} }, CodeContentMismatch},
		{"revocation signed by the attorney", "signed", client, func(s *State) Command {
			return RevokePOA{Reason: "x", Signature: sig(attorney.IIN, RevocationBytes(s))}
		}, CodeSignerMismatch},
		// Every final step that ends an act against someone's wish says why.
		{"cancel without a reason", "paid", client, func(*State) Command { return CancelAct{} }, CodeReasonRequired},
		{"cancel with a blank reason", "submitted", client, func(*State) Command { return CancelAct{Reason: " \t"} }, CodeReasonRequired},
		{"refuse consent without a reason", "submitted", attorney, func(*State) Command { return RefuseConsent{} }, CodeReasonRequired},
		{"revoke without a reason", "signed", client, func(s *State) Command { return RevokePOA{Signature: sig(client.IIN, RevocationBytes(s))} }, CodeReasonRequired},
		{"the attorney revokes", "signed", attorney, func(s *State) Command { return RevokePOA{Signature: sig(attorney.IIN, RevocationBytes(s))} }, CodeForbidden},
		{"overlong comment", "drafted", client, func(*State) Command { return RequestChanges{Revision: 1, Comments: string(make([]rune, MaxTextLen+1))} }, CodeBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s State
			if c.at != "" {
				s = at(t, c.at)
			}
			events, err := Decide(s, c.by, c.cmd(&s), t0, rules)
			if code(err) != c.want {
				t.Fatalf("got %v (events %v), want %s", err, events, c.want)
			}
			if events != nil {
				t.Fatalf("a refusal returned events %v", events)
			}
		})
	}
	t.Run("check outside the call", func(t *testing.T) {
		s := mustApply(t, at(t, "drafted"), notary, EndCall{})
		if _, err := Decide(s, notary, RecordCheck{Check: CheckDocumentShown, Passed: true}, t0, rules); code(err) != CodeNotAllowedInState {
			t.Fatal(err)
		}
	})
	t.Run("payment for a voided invoice", func(t *testing.T) {
		s := mustApply(t, at(t, "invoiced"), notary, PresentDraft{RegistryNumber: "1", Powers: "x", ServicesFee: money(100)})
		if _, err := Decide(s, bank, RecordPayment{InvoiceID: "inv-1", PaymentID: "p", Amount: 1513750}, t0, rules); code(err) != CodeUnknownInvoice {
			t.Fatal(err)
		}
	})
	for _, check := range []Check{CheckLegalCapacity, CheckRegistryLookup} {
		t.Run("a failed "+string(check)+" blocks signing", func(t *testing.T) {
			s := mustApply(t, at(t, "coded"), notary, RecordCheck{Check: check, Passed: false, Note: "сомнения"})
			if _, err := Decide(s, notary, SignAct{Signature: sig(notary.IIN, DocumentBytes(&s))}, t0, rules); code(err) != CodeChecksIncomplete {
				t.Fatal(err)
			}
		})
	}
	t.Run("anything after a refusal of consent", func(t *testing.T) {
		s := mustApply(t, at(t, "submitted"), attorney, RefuseConsent{Reason: "нет"})
		if s.Phase != PhaseConsentRefused || !s.Phase.Final() {
			t.Fatalf("phase %s", s.Phase)
		}
		if _, err := Decide(s, client, RequestCall{}, t0, rules); code(err) != CodeNotAllowedInState {
			t.Fatal(err)
		}
	})
}

// Every command, sent by anyone who has no part in the act, is refused at
// every step.
func TestOutsidersAreRefusedEverywhere(t *testing.T) {
	outsiders := []Actor{stranger, strangerA, notary2, system, {Role: RoleBank}, {Role: "hacker", ID: "x"}}
	for _, step := range happy {
		base := at(t, step.name)
		for _, proto := range Commands() {
			cmd := sampleCommand(&base, proto)
			if _, ok := cmd.(SubmitApplication); ok {
				continue // opens a new act; covered by TestRefusals
			}
			for _, by := range outsiders {
				if by.Role == RoleBank {
					if _, ok := cmd.(RecordPayment); ok {
						continue // the bank's own command; amounts and ids decide
					}
				}
				if by.Role == RoleNotary {
					if _, ok := cmd.(AcceptCall); ok && base.Notary.ID == "" {
						continue // any notary may take an unassigned call: that is the desk's job
					}
				}
				events, err := Decide(base, by, cmd, t0, rules)
				if err == nil {
					t.Errorf("at %s: %s by %s was accepted: %v", step.name, cmd.CommandName(), by, events)
				}
			}
		}
	}
}

// sampleCommand fills a command with values that would pass for the act's
// own parties, so that only the actor makes it wrong.
func sampleCommand(s *State, proto Command) Command {
	switch proto.(type) {
	case GiveConsent:
		return GiveConsent{Signature: sig(strangerA.IIN, ConsentBytes(s))}
	case RefuseConsent:
		return RefuseConsent{Reason: "x"}
	case RecordCheck:
		return RecordCheck{Check: CheckDocumentShown, Passed: true}
	case RecordRegistryCheck:
		return RecordRegistryCheck{IIN: client.IIN, Found: true}
	case PresentDraft:
		return PresentDraft{RegistryNumber: "1", Powers: "x"}
	case ApproveDraft:
		return ApproveDraft{Revision: len(s.Revisions), Signature: sig(stranger.IIN, DraftBytes(s, len(s.Revisions)))}
	case RequestChanges:
		return RequestChanges{Revision: len(s.Revisions), Comments: "x"}
	case IssueInvoice:
		return IssueInvoice{InvoiceID: "x"}
	case RecordPayment:
		return RecordPayment{InvoiceID: "inv-1", PaymentID: "pay-x", Amount: 1513750}
	case IssueDocumentCode:
		return IssueDocumentCode{Code: "x"}
	case SignAct:
		return SignAct{Signature: sig(notary2.IIN, DocumentBytes(s))}
	case RefuseAct:
		return RefuseAct{Reason: "x"}
	case CancelAct:
		return CancelAct{Reason: "x"}
	case RevokePOA:
		return RevokePOA{Reason: "x", Signature: sig(stranger.IIN, RevocationBytes(s))}
	}
	return proto
}

// Events survive the log: encode each to JSON, decode it by type name, and
// the replayed state is the same.
func TestEventsRoundTripThroughJSON(t *testing.T) {
	var s State
	var stored []Event
	for _, h := range happy {
		events, err := Decide(s, h.by, h.cmd(&s), t0, rules)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			s = Apply(s, e)
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeEvent(e.EventType(), b)
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, back)
		}
	}
	if got := Replay(stored); !reflect.DeepEqual(got, s) {
		t.Fatalf("replayed state differs:\n got %+v\nwant %+v", got, s)
	}
	if _, err := DecodeEvent("act_teleported", []byte("{}")); err == nil {
		t.Fatal("unknown event type decoded")
	}
	if len(EventTypes()) != 26 {
		t.Fatalf("%d event types registered", len(EventTypes()))
	}
}

func TestApplyDoesNotAliasEarlierStates(t *testing.T) {
	s1 := at(t, "drafted")
	s2 := mustApply(t, s1, client, RequestChanges{Revision: 1, Comments: "ещё"})
	if len(s1.Revisions[0].Comments) != 0 || len(s2.Revisions[0].Comments) != 1 {
		t.Fatal("Apply changed an earlier state's revisions")
	}
	s3 := mustApply(t, s1, notary, RecordCheck{Check: CheckRegistryLookup, Passed: true})
	if _, ok := s1.Checks[CheckRegistryLookup]; ok || len(s3.Checks) != 4 {
		t.Fatal("Apply changed an earlier state's checks")
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+7 701 234 56 78": "+77012345678", "87012345678": "+77012345678", "7 (701) 234-56-78": "+77012345678",
		"7012345678": "+77012345678", "+7 495 123 45 67": "", "+1 701 234 56 78": "", "7012": "", "70123456789a": "",
	} {
		got, ok := NormalizePhone(in)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
}

func TestIndex(t *testing.T) {
	got := IndexValues(ptr(at(t, "coded")))
	want := [len(IndexNames)]string{attorney.IIN, "SNM-ABCD-EFGH", "aliya", "with_notary", client.IIN, ""}
	if got != want {
		t.Fatalf("index %q, want %q", got, want)
	}
	if v := IndexValues(ptr(at(t, "waiting"))); v[slices.Index(IndexNames[:], "queue")] != "waiting" {
		t.Fatal("a waiting call is not in the queue index")
	}
	if !slices.IsSorted(IndexNames[:]) {
		t.Fatalf("IndexNames %v are not in order", IndexNames)
	}
}

func ptr(s State) *State { return &s }
