// Package docrecog is the port to the document-recognition service of
// Digital ID: it reads the fields of an identity document (ID card: both
// sides; passport: the photo page) from the applicant's photos. The
// applicant confirms the fields, and the certificate subject is built from
// them (domain/issuance).
//
// Recogniser has two adapters: HTTP, for a JSON facade of the service, and
// Dev, the development stand-in. Dev cannot read pictures: it finds the
// marker SENIM-IIN:<12 digits> in a page and answers the fields of that
// person from the registry stand-in (package registry), so a test or a
// developer gets the document of anyone in data_dir/registry.json. The
// marker SENIM-DOC:UNREADABLE, or no marker, makes the page unreadable, as
// a blurred photo is. Dev shows the failures of the real service on demand
// (outside.Faults).
package docrecog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/outside"
	"github.com/senim-kz/senim/registry"
)

// The markers the stand-in looks for.
const (
	MarkerIIN        = "SENIM-IIN:"
	MarkerUnreadable = "SENIM-DOC:UNREADABLE"
)

// MaxPage bounds one page's photo.
const MaxPage = 16 << 20

// Errors of recognition.
var (
	// ErrBadInput: an unknown document kind, the wrong number of pages, or
	// an empty or too large page.
	ErrBadInput = errors.New("docrecog: bad document pages")
	// ErrUnreadable: the document could not be read; retake the photos.
	ErrUnreadable = errors.New("docrecog: document unreadable")
	// ErrUnavailable: the service did not answer; try again later.
	ErrUnavailable = errors.New("docrecog: unavailable")
)

// Recogniser reads identity documents.
type Recogniser interface {
	// Recognise reads the fields of a document of kind from its pages: an
	// ID card's front and back, or a passport's photo page.
	Recognise(ctx context.Context, kind issuance.DocumentKind, pages ...[]byte) (issuance.DocumentFields, error)
}

// Pages is how many photos each document kind takes.
func Pages(kind issuance.DocumentKind) int {
	switch kind {
	case issuance.DocumentIDCard:
		return 2
	case issuance.DocumentPassport:
		return 1
	}
	return 0
}

func checkPages(kind issuance.DocumentKind, pages [][]byte) error {
	n := Pages(kind)
	if n == 0 {
		return fmt.Errorf("%w: unknown document kind %q", ErrBadInput, kind)
	}
	if len(pages) != n {
		return fmt.Errorf("%w: a %s takes %d photos, got %d", ErrBadInput, kind, n, len(pages))
	}
	for _, p := range pages {
		if len(p) == 0 || len(p) > MaxPage {
			return fmt.Errorf("%w: a photo is empty or larger than %d bytes", ErrBadInput, MaxPage)
		}
	}
	return nil
}

// Dev is the development stand-in over the registry stand-in. Set its
// Faults to make it fail.
type Dev struct {
	outside.Faults
	Registry registry.Registry
}

// Recognise implements Recogniser.
func (d *Dev) Recognise(ctx context.Context, kind issuance.DocumentKind, pages ...[]byte) (issuance.DocumentFields, error) {
	if err := checkPages(kind, pages); err != nil {
		return issuance.DocumentFields{}, err
	}
	if err := d.Before(ctx); err != nil {
		return issuance.DocumentFields{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	id := ""
	for _, p := range pages {
		if bytes.Contains(p, []byte(MarkerUnreadable)) {
			return issuance.DocumentFields{}, ErrUnreadable
		}
		if i := bytes.Index(p, []byte(MarkerIIN)); i >= 0 && id == "" {
			rest := p[i+len(MarkerIIN):]
			if len(rest) >= 12 {
				id = string(rest[:12])
			}
		}
	}
	if _, err := iin.ParseIIN(id); err != nil {
		return issuance.DocumentFields{}, fmt.Errorf("%w: no readable IIN", ErrUnreadable)
	}
	person, err := d.Registry.Lookup(ctx, id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		// The stand-in knows only the documents of people in the registry.
		return issuance.DocumentFields{}, fmt.Errorf("%w: not in the registry stand-in", ErrUnreadable)
	case err != nil:
		return issuance.DocumentFields{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	got := issuance.DocumentKind(person.Document.Kind)
	if got == "" {
		got = issuance.DocumentIDCard
	}
	return issuance.DocumentFields{
		Kind: got, IIN: person.IIN, Surname: person.Surname, Name: person.Name, Patronymic: person.Patronymic,
		BirthDate: person.BirthDate, Number: person.Document.Number, ValidUntil: person.Document.ValidUntil,
	}, nil
}

// Handler serves the stand-in over HTTP with the API the HTTP adapter
// speaks: POST /recognise?kind=id_card|passport, the photos as the
// multipart/form-data parts named "page", in order. token, if set, is
// required as a bearer token.
func (d *Dev) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /recognise", outside.RequireToken(token, func(w http.ResponseWriter, r *http.Request) {
		kind := issuance.DocumentKind(r.URL.Query().Get("kind"))
		pages, err := readPages(w, r)
		if err != nil {
			outside.WriteError(w, http.StatusBadRequest, "bad_input", err.Error())
			return
		}
		f, err := d.Recognise(r.Context(), kind, pages...)
		if err != nil {
			codes.Write(w, err)
			return
		}
		outside.WriteJSON(w, http.StatusOK, f)
	}))
	return mux
}

// maxPages bounds the parts a request may carry.
const maxPages = 2

func readPages(w http.ResponseWriter, r *http.Request) ([][]byte, error) {
	// The whole body is bounded, not only each page: parts that are not
	// pages are skipped but still read.
	r.Body = http.MaxBytesReader(w, r.Body, maxPages*MaxPage+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, err
	}
	var pages [][]byte
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return pages, nil
		}
		if err != nil {
			return nil, err
		}
		if part.FormName() != "page" {
			continue
		}
		if len(pages) == maxPages {
			return nil, fmt.Errorf("more than %d pages", maxPages)
		}
		b, err := io.ReadAll(io.LimitReader(part, MaxPage+1))
		if err != nil {
			return nil, err
		}
		pages = append(pages, b)
	}
}

// codes are the errors' codes in the HTTP API.
var codes = outside.ErrorCodes{
	{Err: ErrBadInput, Status: http.StatusBadRequest, Code: "bad_input"},
	{Err: ErrUnreadable, Status: http.StatusUnprocessableEntity, Code: "unreadable"},
}

// HTTP is the adapter for a service with the API of Handler.
type HTTP struct {
	Client outside.Client
}

// Recognise implements Recogniser.
func (h *HTTP) Recognise(ctx context.Context, kind issuance.DocumentKind, pages ...[]byte) (issuance.DocumentFields, error) {
	if err := checkPages(kind, pages); err != nil {
		return issuance.DocumentFields{}, err
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, p := range pages {
		fw, err := mw.CreateFormFile("page", fmt.Sprintf("page-%d", i+1))
		if err != nil {
			return issuance.DocumentFields{}, err
		}
		if _, err := fw.Write(p); err != nil {
			return issuance.DocumentFields{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return issuance.DocumentFields{}, err
	}
	var out issuance.DocumentFields
	err := h.Client.Do(ctx, http.MethodPost, "/recognise?kind="+url.QueryEscape(string(kind)), mw.FormDataContentType(), buf.Bytes(), &out)
	if err != nil {
		return issuance.DocumentFields{}, codes.Map(err, ErrUnavailable)
	}
	return out, nil
}
