package act

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// The bytes each party signs are defined here and nowhere else. Each is the
// JSON of a struct (fields in declaration order, no insignificant space), so
// that the server, the apps and an auditor compute the same bytes. A "kind"
// with a version opens each, so that a signature over one kind of bytes can
// never stand for another.

// ApplicationBytes is what the client signs to submit an application.
func ApplicationBytes(actID, actionType, principalIIN, phone, attorneyIIN string, consent bool) []byte {
	return mustJSON(struct {
		Kind        string `json:"kind"`
		ActID       string `json:"act_id"`
		ActionType  string `json:"action_type"`
		Principal   string `json:"principal_iin"`
		Phone       string `json:"phone"`
		Attorney    string `json:"attorney_iin"`
		DataConsent bool   `json:"personal_data_consent"`
	}{"senim.application.v1", actID, actionType, principalIIN, phone, attorneyIIN, consent})
}

// ConsentText is the consent the attorney gives, in Russian and Kazakh.
const ConsentText = "Даю согласие на сбор и обработку моих персональных данных для совершения нотариального действия. " +
	"Нотариаттық әрекет жасау үшін дербес деректерімді жинауға және өңдеуге келісім беремін."

// ConsentBytes is what the attorney signs to consent.
func ConsentBytes(s *State) []byte {
	return mustJSON(struct {
		Kind      string `json:"kind"`
		ActID     string `json:"act_id"`
		Attorney  string `json:"attorney_iin"`
		Principal string `json:"principal_iin"`
		Text      string `json:"text"`
	}{"senim.consent.v1", s.ID, s.Attorney.IIN, s.Principal.IIN, ConsentText})
}

// The draft's and the document's bytes have a second format for drafts
// with the powers in Kazakh. The format follows from the draft itself: a
// draft without powers_kk (every draft stored before it existed) keeps the
// v1 kind and bytes exactly, so its approvals and signatures still verify;
// one with them is v2, whose kind says a new field is in.
const (
	draftKindV1 = "senim.draft.v1"
	draftKindV2 = "senim.draft.v2"
	docKindV1   = "senim.poa.v1"
	docKindV2   = "senim.poa.v2"
)

// DraftBytes is what the client signs to approve revision rev.
func DraftBytes(s *State, rev int) []byte {
	var d Draft
	if rev >= 1 && rev <= len(s.Revisions) {
		d = s.Revisions[rev-1].Draft
	}
	kind := draftKindV1
	if d.PowersKK != "" {
		kind = draftKindV2
	}
	return mustJSON(struct {
		Kind      string `json:"kind"`
		ActID     string `json:"act_id"`
		Revision  int    `json:"revision"`
		Principal string `json:"principal_iin"`
		Attorney  string `json:"attorney_iin"`
		Notary    string `json:"notary"`
		Draft     Draft  `json:"draft"`
	}{kind, s.ID, rev, s.Principal.IIN, s.Attorney.IIN, s.Notary.ID, d})
}

// DocumentBytes is what the notary signs: the approved revision with the
// parties, the notary, the client's approval and the document code.
func DocumentBytes(s *State) []byte {
	var d Draft
	if c := s.Current(); c != nil {
		d = c.Draft
	}
	kind := docKindV1
	if d.PowersKK != "" {
		kind = docKindV2
	}
	approval := ""
	if s.ApprovalSig != nil {
		approval = s.ApprovalSig.ContentSHA256
	}
	return mustJSON(struct {
		Kind         string `json:"kind"`
		ActID        string `json:"act_id"`
		HistoryHead  string `json:"history_head"`
		DocumentCode string `json:"document_code"`
		ActionType   string `json:"action_type"`
		Principal    Party  `json:"principal"`
		Attorney     Party  `json:"attorney"`
		Notary       Actor  `json:"notary"`
		Revision     int    `json:"revision"`
		Draft        Draft  `json:"draft"`
		ApprovedSHA  string `json:"approved_draft_sha256"`
	}{kind, s.ID, s.HistoryHead, s.DocumentCode, s.ActionType,
		Party{IIN: s.Principal.IIN, Name: s.Principal.Name}, Party{IIN: s.Attorney.IIN, Name: s.Attorney.Name},
		Actor{Role: RoleNotary, ID: s.Notary.ID, IIN: s.Notary.IIN, Name: s.Notary.Name}, s.Approved, d, approval})
}

// RevocationBytes is what the principal signs to revoke a signed power of
// attorney.
func RevocationBytes(s *State) []byte {
	return mustJSON(struct {
		Kind         string `json:"kind"`
		ActID        string `json:"act_id"`
		DocumentCode string `json:"document_code"`
		Principal    string `json:"principal_iin"`
		Text         string `json:"text"`
	}{"senim.revocation.v1", s.ID, s.DocumentCode, s.Principal.IIN,
		"Отменяю доверенность. Сенімхатты күшін жоямын."})
}

// SHA256Hex is the hex SHA-256 of b, the form Signature.ContentSHA256 takes.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of strings and numbers reach here
	}
	return b
}
