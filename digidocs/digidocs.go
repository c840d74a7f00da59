// Package digidocs is the port to "Digital documents" (Цифровые документы),
// eGov's service that keeps a citizen's documents for their phone: after
// signing, the client saves the notarial document there (the save_document
// command) and lists what they saved (the my_documents query).
//
// Two adapters: Sim, the development stand-in, which keeps each person's
// documents as files under a directory, and HTTP, which speaks this format
// to a real service (or a gateway in front of it):
//
//	PUT  {url}/people/{iin}/documents/{id}   body: Document as JSON (data base64) → 200/201
//	GET  {url}/people/{iin}/documents        → {"documents": [Document without data, …]}
//	GET  {url}/people/{iin}/documents/{id}   → Document, 404 if the person has no such one
//
// every request with "Authorization: Bearer <api key>". A 5xx or a timeout
// is ErrUnavailable, a 404 ErrNotFound.
package digidocs

import (
	"context"
	"errors"
	"time"
)

// Document is one document kept for a person.
type Document struct {
	// ID is the document's id at the service: Senim's is "senim-<act>",
	// so a second save of an act's document replaces the first.
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	ActID   string    `json:"act"`
	Code    string    `json:"code"` // the document code of the public check
	MIME    string    `json:"mime"`
	SHA256  string    `json:"sha256"` // hex, of Data
	Size    int       `json:"size"`
	SavedAt time.Time `json:"saved_at"`
	Data    []byte    `json:"data,omitempty"`
}

// Port is what Senim needs of Digital documents. Every call names the
// person: a person sees only their own documents.
type Port interface {
	Save(ctx context.Context, iin string, doc Document) error
	List(ctx context.Context, iin string) ([]Document, error)
	Open(ctx context.Context, iin, id string) (Document, error)
}

// Errors of the adapters.
var (
	// ErrNotFound: the person has no document with that id.
	ErrNotFound = errors.New("digidocs: no such document")
	// ErrUnavailable: the service did not answer; try again later.
	ErrUnavailable = errors.New("digidocs: the service is unavailable")
	// ErrBadRequest: an IIN or id that cannot be a person's or a document's.
	ErrBadRequest = errors.New("digidocs: bad iin or document id")
)
