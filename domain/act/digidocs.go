package act

import "time"

// SaveDocument records that the principal saved the signed act's document
// to the "Digital documents" service. The server sends it, with the
// principal as actor and the app's command id, only after the service took
// the document: an app's own save_document never reaches the act as sent.
type SaveDocument struct {
	Service    string `json:"service"`     // "digidocs"
	DocumentID string `json:"document_id"` // the service's id of the document
	SHA256     string `json:"sha256"`      // hex, of the PDF saved
}

// DocumentSaved is the principal's save of the document to Digital
// documents: which document, which bytes, when.
type DocumentSaved struct {
	Service    string    `json:"service"`
	DocumentID string    `json:"document_id"`
	SHA256     string    `json:"sha256"`
	At         time.Time `json:"at"`
}

// CommandName is the command's protocol name.
func (SaveDocument) CommandName() string { return "save_document" }

// EventType is the event's stored name.
func (DocumentSaved) EventType() string { return "document_saved" }

func init() { register[DocumentSaved]() }

// MaySaveDocument says whether by may save the act's document to Digital
// documents: only the act's principal, once the act is signed (a revoked
// power of attorney's document says so, and may be saved too). The server
// asks before it calls the service; Decide asks again when it is recorded.
func MaySaveDocument(s *State, by Actor) error {
	if s.Phase == PhaseNone {
		return refuse(CodeNoSuchAct, "no such act")
	}
	if by.Role != RoleClient || by.IIN == "" || by.IIN != s.Principal.IIN {
		return refuse(CodeForbidden, "only the act's principal saves its document")
	}
	if s.Phase != PhaseSigned && s.Phase != PhaseRevoked {
		return refuse(CodeNotAllowedInState, "only a signed act's document is saved (act is %s)", s.Phase)
	}
	return nil
}

func decideSaveDocument(s *State, by Actor, c SaveDocument, now time.Time) ([]Event, error) {
	if err := MaySaveDocument(s, by); err != nil {
		return nil, err
	}
	if c.Service == "" || c.DocumentID == "" || len(c.SHA256) != 64 {
		return nil, refuse(CodeBadRequest, "service, document_id and sha256 are required")
	}
	return []Event{DocumentSaved{Service: c.Service, DocumentID: c.DocumentID, SHA256: c.SHA256, At: now}}, nil
}
