package protocol

import "time"

// TypeSigned is pushed to a session when the phone's signature for one of
// its sign_link links was accepted: the app sends it on as it would send
// NCALayer's.
const TypeSigned = "signed"

// SignLinkQuery is the body of the sign_link query: what the citizen signs
// in eGov mobile. The server computes the bytes itself.
type SignLinkQuery struct {
	// What is "signin", "application", "consent", "draft" (also
	// "approval"; with Revision) or "revocation".
	What     string `json:"what"`
	Act      string `json:"act,omitempty"`
	Revision int    `json:"revision,omitempty"`
	// Application holds the fields of an application (What "application"),
	// with the act id prepare_application made.
	Application *SignLinkApplication `json:"application,omitempty"`
}

// SignLinkApplication is an application to sign through eGov mobile.
type SignLinkApplication struct {
	Act         string `json:"act"`
	ActionType  string `json:"action_type"`
	Phone       string `json:"phone"`
	AttorneyIIN string `json:"attorney_iin"`
	Consent     bool   `json:"consent"`
}

// SignLink is the answer to sign_link: where the phone goes.
type SignLink struct {
	Link      string    `json:"link"`      // the link's id (not its secret token)
	URL       string    `json:"url"`       // the API URL
	QR        string    `json:"qr"`        // the QR code's text, mobileSign:<url>
	DeepLink  string    `json:"deep_link"` // eGov mobile's app link, same device
	QRPNG     string    `json:"qr_png"`    // path of the QR code as a PNG image
	ExpiresAt time.Time `json:"expires_at"`
}

// SignedBody is the body of a signed push.
type SignedBody struct {
	Link string `json:"link"`
	CMS  string `json:"cms"` // base64
}

// MyDocuments is the answer to my_documents: the client's documents saved
// to Digital documents, newest first.
type MyDocuments struct {
	Documents []SavedDocument `json:"documents"`
}

// OpenedDocument answers open_document: one saved document with its bytes.
type OpenedDocument struct {
	SavedDocument
	// Data is the document, base64.
	Data string `json:"data"`
}

// SavedDocument is one document at Digital documents.
type SavedDocument struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Act     string    `json:"act"`
	Code    string    `json:"code"`
	MIME    string    `json:"mime"`
	SHA256  string    `json:"sha256"`
	Size    int       `json:"size"`
	SavedAt time.Time `json:"saved_at"`
}
