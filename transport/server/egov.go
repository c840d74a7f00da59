package server

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/egovmobile"
	"github.com/senim-kz/senim/web"
)

// The eGov mobile signing endpoints (package egovmobile): the phone reads
// a link's descriptor and documents and puts its signature back; the app
// shows the link's QR code as an image. Each link is a 256-bit token in the
// path and nothing else: no personal data in a URL.

// maxEgovBody bounds a phone's PUT: one document's CMS, with its data and
// certificates, is tens of KB.
const maxEgovBody = 1 << 20

// newEgovStore makes the link store of the configuration; its texts are
// the page catalogs' egov.* strings.
func newEgovStore(cfg config.Config, s *Server) (*egovmobile.Store, error) {
	cats, err := web.PageCatalogs()
	if err != nil {
		return nil, err
	}
	return egovmobile.NewStore(egovmobile.Config{TTL: cfg.Egov.LinkTTL.Std(), Max: cfg.Egov.MaxLinks, Now: s.now,
		Trust: s.Trust, MaxSkew: cfg.PKI.MaxClockSkew.Std(), Texts: cats, BIN: cfg.Egov.OrganisationBIN}), nil
}

// egovBaseURL is where the phone reaches Senim: document.public_url, or,
// while that is a loopback address (development), this listener's own
// address, so that a test server on a random port works.
func egovBaseURL(publicURL, scheme string, ln net.Addr) string {
	u, err := url.Parse(publicURL)
	if err == nil {
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || strings.EqualFold(u.Hostname(), "localhost") {
			return scheme + "://" + selfAddr(ln)
		}
	}
	return strings.TrimSuffix(publicURL, "/")
}

// egovSweep tells sessions of their links that expired unused.
func (s *Server) egovSweep() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stopReload:
			return
		case <-t.C:
			s.Egov.Sweep()
		}
	}
}

func (s *Server) egovRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /egov/sign/{token}", s.egovDescriptor)
	mux.HandleFunc("GET /egov/sign/{token}/document", s.egovDocuments)
	mux.HandleFunc("PUT /egov/sign/{token}/document", s.egovPut)
	mux.HandleFunc("GET /egov/qr/{file}", s.egovQR)
}

func egovFail(w http.ResponseWriter, err error) {
	var e *egovmobile.Error
	if errors.As(err, &e) {
		writeJSON(w, e.Status, egovmobile.ErrorBody{Code: e.Code, Message: e.Message})
		return
	}
	writeJSON(w, http.StatusInternalServerError, egovmobile.ErrorBody{Code: "internal", Message: "Senim failed; try again"})
}

func (s *Server) egovDescriptor(w http.ResponseWriter, r *http.Request) {
	d, err := s.Egov.Descriptor(r.PathValue("token"))
	if err != nil {
		egovFail(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) egovDocuments(w http.ResponseWriter, r *http.Request) {
	d, err := s.Egov.Documents(r.PathValue("token"))
	if err != nil {
		egovFail(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) egovPut(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEgovBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, egovmobile.ErrorBody{Code: egovmobile.CodeTooLarge, Message: "the body is over 1 MiB"})
		return
	}
	var docs egovmobile.Documents
	if err := json.Unmarshal(body, &docs); err != nil {
		writeJSON(w, http.StatusBadRequest, egovmobile.ErrorBody{Code: egovmobile.CodeBadRequest, Message: "not the documents JSON: " + err.Error()})
		return
	}
	if err := s.Egov.Accept(r.PathValue("token"), docs); err != nil {
		var e *egovmobile.Error
		if errors.As(err, &e) {
			s.log.Info().Str("code", e.Code).Msg("eGov mobile signature refused")
		}
		egovFail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// egovQR renders a link's QR code (mobileSign:<API URL>) for the app to
// show; an unknown, used or expired link has none.
func (s *Server) egovQR(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutSuffix(r.PathValue("file"), ".png")
	if !ok {
		egovFail(w, &egovmobile.Error{Status: http.StatusNotFound, Code: egovmobile.CodeLinkUnknown, Message: "no such signing link"})
		return
	}
	if _, err := s.Egov.Descriptor(token); err != nil {
		egovFail(w, err)
		return
	}
	png, err := qrcode.Encode(egovmobile.QRText(s.Egov.APIURL(token)), qrcode.Medium, 384)
	if err != nil {
		egovFail(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(png)
}
