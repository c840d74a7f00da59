package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/bmg"
	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/docrecog"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/faceid"
	"github.com/senim-kz/senim/internal/outside"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/legalreg"
	"github.com/senim-kz/senim/mail"
	"github.com/senim-kz/senim/sms"
	"github.com/senim-kz/senim/web"
)

// IssuanceDevs are the development stand-ins of remote EDS issuance's
// ports, each nil when its port is configured "http".
type IssuanceDevs struct {
	BMG      *bmg.Dev
	SMS      *sms.Dev
	FaceID   *faceid.Dev
	DocRecog *docrecog.Dev
	CA       *ca.Dev
	LegalReg *legalreg.Dev
	// Mail is nil unless issuance.mail.mode is "dev".
	Mail *mail.Dev
}

// MailOutboxPath is where the e-mail stand-in writes under a data directory.
func MailOutboxPath(dataDir string) string { return filepath.Join(dataDir, "mail-outbox") }

// IssuanceFilesPath is where the applications' uploads and certificate
// requests are kept under a data directory (one directory per application).
func IssuanceFilesPath(dataDir string) string { return filepath.Join(dataDir, "issuance") }

// startIssuance opens the ports issuance.* name and starts the
// application actors.
func (s *Server) startIssuance(cfg config.Config, now func() time.Time) error {
	i := cfg.Issuance
	if !i.Enabled {
		return nil
	}
	keyFile := i.CodeKeyFile
	var key []byte
	if keyFile == "" {
		secret, err := loadOrMakeSecret(filepath.Join(cfg.DataDir, "issuance.key"))
		if err != nil {
			return err
		}
		key = []byte(secret)
	} else {
		var err error
		if key, err = readSecretFile(keyFile, 32); err != nil {
			return fmt.Errorf("issuance.code_key_file: %w", err)
		}
	}
	client := func(name string, p config.Port) (outside.Client, error) {
		tok, err := readSecretFile(p.TokenFile, 1)
		if err != nil {
			return outside.Client{}, fmt.Errorf("issuance.%s.token_file: %w", name, err)
		}
		return outside.Client{BaseURL: strings.TrimRight(p.URL, "/"), Token: string(tok), HTTP: &http.Client{Timeout: p.Timeout.Std()}}, nil
	}
	d := actors.IssuanceDeps{
		Rules: issuance.Rules{OTPTTL: i.OTPTTL.Std(), OTPMaxTries: i.OTPMaxTries, OTPPerWindow: i.OTPPerWindow, OTPWindow: i.OTPWindow.Std(),
			MaxImageBytes: i.MaxImageBytes, MaxVideoBytes: i.MaxVideoBytes, MaxUploadsPerPurpose: i.MaxUploadsPerPurpose,
			MinKeyBits: i.MinKeyBits, ExpireAfter: i.ExpireAfter.Std(),
			UnverifiedExpireAfter: i.UnverifiedExpireAfter.Std()},
		CodeKey: key, FilesDir: IssuanceFilesPath(cfg.DataDir), IdleAfter: i.IdleAfter.Std(),
		RetryMin: i.RetryMin.Std(), RetryMax: i.RetryMax.Std(), CAPoll: i.CAPoll.Std(),
		MaxOpenPerIIN: i.MaxOpenPerIIN, StartsPerIP: i.StartsPerIP, Text: smsText,
	}
	var err error
	if i.BMG.Mode == "dev" {
		if s.IssuanceDev.BMG, err = bmg.NewDev(nil); err != nil {
			return err
		}
		d.BMG = s.IssuanceDev.BMG
	} else {
		c, err := client("bmg", i.BMG)
		if err != nil {
			return err
		}
		d.BMG = &bmg.HTTP{Client: c}
	}
	if i.SMS.Mode == "dev" {
		s.IssuanceDev.SMS = sms.NewDev(s.log.With().Str("component", "sms").Logger(), 1000, now)
		d.SMS = s.IssuanceDev.SMS
	} else {
		c, err := client("sms", i.SMS)
		if err != nil {
			return err
		}
		d.SMS = &sms.HTTP{Client: c}
	}
	if i.FaceID.Mode == "dev" {
		s.IssuanceDev.FaceID = &faceid.Dev{}
		d.FaceID = s.IssuanceDev.FaceID
	} else {
		c, err := client("faceid", i.FaceID)
		if err != nil {
			return err
		}
		d.FaceID = &faceid.HTTP{Client: c}
	}
	if i.DocRecog.Mode == "dev" {
		s.IssuanceDev.DocRecog = &docrecog.Dev{Registry: s.Registry}
		d.DocRecog = s.IssuanceDev.DocRecog
	} else {
		c, err := client("docrecog", i.DocRecog)
		if err != nil {
			return err
		}
		d.DocRecog = &docrecog.HTTP{Client: c}
	}
	if i.CA.Mode == "dev" {
		if s.DevCA == nil {
			return errors.New(`issuance.ca.mode = "dev" certifies with the development CA: it needs pki.dev_ca = true`)
		}
		if s.IssuanceDev.CA, err = ca.NewDev(s.DevCA, filepath.Join(s.DevCA.Dir(), "requests"), ca.DevOptions{MinKeyBits: i.MinKeyBits, Now: now}); err != nil {
			return err
		}
		d.CA = s.IssuanceDev.CA
	} else {
		c, err := client("ca", i.CA)
		if err != nil {
			return err
		}
		d.CA = &ca.HTTP{Client: c}
	}
	if i.LegalReg.Mode == "dev" {
		if s.IssuanceDev.LegalReg, err = legalreg.OpenDev(""); err != nil {
			return err
		}
		d.LegalEntities = s.IssuanceDev.LegalReg
	} else {
		c, err := client("legalreg", i.LegalReg)
		if err != nil {
			return err
		}
		d.LegalEntities = &legalreg.HTTP{Client: c}
	}
	switch i.Mail.Mode {
	case "dev":
		if s.IssuanceDev.Mail, err = mail.NewDev(MailOutboxPath(cfg.DataDir), i.Mail.From, s.log.With().Str("component", "mail").Logger(), now); err != nil {
			return err
		}
		d.Mail = s.IssuanceDev.Mail
	case "smtp":
		relay := &mail.SMTP{Addr: i.Mail.SMTPAddr, From: i.Mail.From, Username: i.Mail.Username, Timeout: i.Mail.Timeout.Std()}
		if i.Mail.Username != "" {
			pw, err := readSecretFile(i.Mail.PasswordFile, 1)
			if err != nil {
				return fmt.Errorf("issuance.mail.password_file: %w", err)
			}
			relay.Password = strings.TrimSpace(string(pw))
		}
		d.Mail = relay
	}
	d.MailText = mailText(strings.TrimSuffix(cfg.Document.PublicURL, "/") + "/issuance/")
	return s.Actors.StartIssuance(d)
}

// mailText is an e-mail of remote EDS issuance from the pages' catalogs:
// the subject and the body in Russian, Kazakh and English, one after the
// other (the server does not know the applicant's language), with vars and
// the applicant's page (url) in them.
func mailText(url string) func(key string, vars map[string]string) (string, string) {
	return func(key string, vars map[string]string) (string, string) {
		cats, err := web.PageCatalogs()
		if err != nil {
			return key, key
		}
		fill := func(t string) string {
			t = strings.ReplaceAll(t, "{url}", url)
			for k, v := range vars {
				t = strings.ReplaceAll(t, "{"+k+"}", v)
			}
			return t
		}
		var subjects, bodies []string
		for _, lang := range web.PageLanguages {
			if t, ok := cats[lang][key+".subject"]; ok {
				subjects = append(subjects, fill(t))
			}
			if t, ok := cats[lang][key+".body"]; ok {
				bodies = append(bodies, fill(t))
			}
		}
		if len(subjects) == 0 || len(bodies) == 0 {
			return key, key
		}
		// The subject in Russian and Kazakh (it must stay short); the
		// body in all three.
		return strings.Join(subjects[:min(2, len(subjects))], " / "), strings.Join(bodies, "\n\n———\n\n")
	}
}

// smsText is an SMS of remote EDS issuance, in Russian and Kazakh, from the
// pages' catalogs.
func smsText(key, arg string) string {
	cats, err := web.PageCatalogs()
	if err != nil {
		return key + " " + arg
	}
	var parts []string
	for _, lang := range []string{"ru", "kk"} {
		if t, ok := cats[lang][key]; ok {
			parts = append(parts, strings.ReplaceAll(t, "{arg}", arg))
		}
	}
	if len(parts) == 0 {
		return key + " " + arg
	}
	return strings.Join(parts, " / ")
}

// issuanceRoutes serves the applicant's uploads.
func (s *Server) issuanceRoutes(mux *http.ServeMux) {
	if s.Actors.Issuance() == nil {
		return
	}
	mux.HandleFunc("POST /issuance/{app}/uploads/{purpose}", s.issuanceUpload)
	mux.HandleFunc("GET /issuance/{app}/files/{ticket}", s.issuanceFile)
	// The development stand-ins' own APIs, for a developer (and the crash
	// tests) to register a phone and read the SMS: development settings,
	// which a server on a public address refuses without --dev.
	if d := s.IssuanceDev.SMS; d != nil {
		mux.Handle("GET /dev/issuance/sms/messages", http.StripPrefix("/dev/issuance/sms", d.Handler("")))
	}
	if d := s.IssuanceDev.BMG; d != nil {
		h := http.StripPrefix("/dev/issuance/bmg", d.Handler(""))
		mux.Handle("GET /dev/issuance/bmg/phones/{iin}", h)
		mux.Handle("PUT /dev/issuance/bmg/phones/{iin}", h)
	}
	if d := s.IssuanceDev.LegalReg; d != nil {
		mux.Handle("GET /dev/issuance/legalreg/entities/{bin}", http.StripPrefix("/dev/issuance/legalreg", d.Handler("")))
	}
}

// uploadLimit is the most an upload of purpose may weigh.
func (s *Server) uploadLimit(p issuance.Purpose) (int64, bool) {
	switch p {
	case issuance.PurposeLiveness:
		return s.cfg.Issuance.MaxVideoBytes, true
	case issuance.PurposeSelfie, issuance.PurposeDocumentFront, issuance.PurposeDocumentBack, issuance.PurposePassportPage:
		return s.cfg.Issuance.MaxImageBytes, true
	}
	return 0, false
}

// issuanceUpload takes one file of the applicant's Digital ID: authorized
// by the application token (Authorization: Bearer), its type sniffed from
// its bytes, stored under data_dir/issuance/<app>/ (named by its purpose
// and SHA-256) before the application records its SHA-256, size and type.
func (s *Server) issuanceUpload(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		writeJSON(w, status, map[string]string{"code": code, "message": msg})
	}
	app, purpose := r.PathValue("app"), issuance.Purpose(r.PathValue("purpose"))
	if !issuance.ValidApplicationID(app) {
		fail(http.StatusNotFound, string(issuance.CodeBadApplicationID), "not an application id the server made")
		return
	}
	limit, ok := s.uploadLimit(purpose)
	if !ok {
		fail(http.StatusBadRequest, string(issuance.CodeBadUpload), "the purpose is selfie, liveness, document_front, document_back or passport_page")
		return
	}
	token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || token == "" || len(token) > 128 {
		fail(http.StatusUnauthorized, actors.CodeBadToken, "the application token is required (Authorization: Bearer)")
		return
	}
	who := issuance.Actor{Role: issuance.RoleApplicant, ID: actors.ApplicantID(token)}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	// The token is checked before a byte is read: nobody fills the disk
	// under an application that is not theirs.
	ans, err := s.Actors.Ask(ctx, s.Actors.Issuance(), func(to *actorPID) any {
		return actors.IssuanceGet{AppID: app, Actor: who, ReplyTo: to}
	})
	if err != nil {
		fail(http.StatusServiceUnavailable, actors.CodeInternal, "the application did not answer; try again")
		return
	}
	if v := ans.(actors.IssuanceView); v.Code != "" {
		fail(http.StatusForbidden, actors.CodeBadToken, "the token is not this application's")
		return
	}
	dir, err := safepath.Join(IssuanceFilesPath(s.cfg.DataDir), app)
	if err != nil {
		fail(http.StatusBadRequest, string(issuance.CodeBadUpload), err.Error())
		return
	}
	up, err := receiveUpload(dir, http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		fail(http.StatusRequestEntityTooLarge, string(issuance.CodeUploadTooLarge), fmt.Sprintf("a %s may be at most %d bytes", purpose, limit))
		return
	case errors.Is(err, errStore):
		s.log.Error().Err(err).Str("application", app).Msg("upload not stored")
		fail(http.StatusServiceUnavailable, actors.CodeInternal, "the file could not be stored; try again")
		return
	case err != nil:
		fail(http.StatusBadRequest, string(issuance.CodeBadUpload), "the upload was cut short")
		return
	case up.size == 0:
		up.discard()
		fail(http.StatusBadRequest, string(issuance.CodeBadUpload), "the upload is empty")
		return
	}
	typ := issuance.FileType(http.DetectContentType(up.head))
	ext := map[issuance.FileType]string{issuance.TypeJPEG: ".jpg", issuance.TypePNG: ".png", issuance.TypeWebM: ".webm"}[typ]
	if ext == "" || (purpose == issuance.PurposeLiveness) != (typ == issuance.TypeWebM) {
		up.discard()
		fail(http.StatusUnsupportedMediaType, string(issuance.CodeUploadType), fmt.Sprintf("a %s must be %s, this is %s", purpose,
			map[bool]string{true: "a WebM video", false: "a JPEG or PNG photo"}[purpose == issuance.PurposeLiveness], typ))
		return
	}
	sum := up.sha256
	name := string(purpose) + "-" + sum[:16] + ext
	path, err := safepath.Join(dir, name)
	if err != nil {
		up.discard()
		fail(http.StatusBadRequest, string(issuance.CodeBadUpload), err.Error())
		return
	}
	// A file of the same content may be stored already (an earlier upload
	// the log names): it stays, and is never removed on a refusal.
	existed, err := up.keepAs(path)
	if err != nil {
		s.log.Error().Err(err).Str("application", app).Msg("upload not stored")
		fail(http.StatusServiceUnavailable, actors.CodeInternal, "the file could not be stored; try again")
		return
	}
	ans, err = s.Actors.Ask(ctx, s.Actors.Issuance(), func(to *actorPID) any {
		return actors.IssuanceUpload{AppID: app, Actor: who, ReplyTo: to,
			Upload: issuance.Upload{Purpose: purpose, Name: name, SHA256: sum, Size: up.size, Type: typ}}
	})
	if err != nil {
		fail(http.StatusServiceUnavailable, actors.CodeInternal, "the application did not answer; try again")
		return
	}
	res := ans.(actors.IssuanceResult)
	if res.Code != "" {
		if !existed && !res.Duplicate && res.Code != actors.CodeInternal {
			_ = os.Remove(path) // refused: nothing refers to it
		}
		status := http.StatusConflict
		switch issuance.Code(res.Code) {
		case issuance.CodeUploadTooLarge:
			status = http.StatusRequestEntityTooLarge
		case issuance.CodeUploadType:
			status = http.StatusUnsupportedMediaType
		case issuance.CodeBadUpload, issuance.CodeBadDocumentKind:
			status = http.StatusBadRequest
		}
		fail(status, res.Code, res.Message)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"sha256": sum, "size": up.size, "type": typ, "seq": res.Seq, "duplicate": res.Duplicate})
}

// errStore marks a failure of the disk, not of the upload.
var errStore = errors.New("upload not stored")

// upload is a file being received: streamed to a temporary file in its
// application's directory while hashed, its first bytes kept for sniffing.
type upload struct {
	tmp    string
	head   []byte
	size   int64
	sha256 string
}

// headWriter keeps the first 512 bytes written (what sniffing reads).
type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) {
	if n := 512 - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

// receiveUpload streams body into dir, durably, never holding it in memory.
func receiveUpload(dir string, body io.Reader) (*upload, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", errStore, err)
	}
	f, err := os.CreateTemp(dir, "receiving-*.part")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errStore, err)
	}
	up := &upload{tmp: f.Name()}
	h, head := sha256.New(), &headWriter{}
	n, err := io.Copy(io.MultiWriter(f, h, head), body)
	if err == nil {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("%w: %v", errStore, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%w: %v", errStore, cerr)
	}
	if err != nil {
		up.discard()
		return nil, err
	}
	up.head, up.size, up.sha256 = head.b, n, hex.EncodeToString(h.Sum(nil))
	return up, nil
}

func (u *upload) discard() { _ = os.Remove(u.tmp) }

// keepAs moves the file to path, unless a file is there already (the same
// content: the name holds its SHA-256), and reports whether one was.
func (u *upload) keepAs(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		u.discard()
		return true, nil
	}
	if err := os.Rename(u.tmp, path); err != nil {
		u.discard()
		return false, err
	}
	// The rename is durable before the log names the file.
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return false, err
	}
	defer d.Close()
	return false, d.Sync()
}

// issuanceFile serves one file of an application to whoever got its ticket
// from the file query (the applicant, or the moderator of the case): once,
// within minutes, never sniffed by the browser as anything else.
func (s *Server) issuanceFile(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	f, ok := s.Actors.RedeemFileTicket(r.PathValue("ticket"), s.now())
	if !ok || f.AppID != app {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "no_such_file", "message": "the address is unknown, used or expired; ask for the file again"})
		return
	}
	path, err := safepath.Join(IssuanceFilesPath(s.cfg.DataDir), app, f.Upload.Name)
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "no_such_file", "message": err.Error()})
		return
	}
	file, err := os.Open(path)
	if err != nil {
		s.log.Error().Err(err).Str("application", app).Msg("an application's file is missing")
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": actors.CodeInternal, "message": "the file could not be read"})
		return
	}
	defer file.Close()
	w.Header().Set("Content-Type", string(f.Upload.Type))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", "attachment")
	w.Header().Set("Content-Length", fmt.Sprint(f.Upload.Size))
	_, _ = io.Copy(w, file)
}
