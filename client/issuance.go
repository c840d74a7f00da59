package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/senim-kz/senim/ca"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/transport/protocol"
)

// Application is an applicant's remote EDS application (PROTOCOL.md,
// "Remote EDS issuance") on one connection: the applicant has no EDS, and
// speaks for the application by its token.
type Application struct {
	c     *Client
	base  string // Senim's HTTP base URL, for the uploads
	ID    string
	Token string
}

// StartApplication starts an application and returns it; the connection
// then speaks for it. base is Senim's HTTP base URL (http://host:port).
func (c *Client) StartApplication(ctx context.Context, base string, start protocol.IssuanceStart) (*Application, error) {
	ans, err := c.issuance(ctx, "", "start", start)
	if err != nil {
		return nil, err
	}
	var s protocol.IssuanceStarted
	if err := json.Unmarshal(ans.Body, &s); err != nil {
		return nil, fmt.Errorf("client: start: %w", err)
	}
	if !issuance.ValidApplicationID(s.Application) || s.Token == "" {
		return nil, fmt.Errorf("client: start answered no application")
	}
	return &Application{c: c, base: base, ID: s.Application, Token: s.Token}, nil
}

// ResumeApplication makes the connection speak for an application again,
// by its token, and returns it with its status.
func (c *Client) ResumeApplication(ctx context.Context, base, id, token string) (*Application, protocol.IssuanceStatus, error) {
	var st protocol.IssuanceStatus
	if !issuance.ValidApplicationID(id) {
		return nil, st, &Error{Code: "bad_application_id", Message: "not an application id"}
	}
	ans, err := c.issuance(ctx, id, "resume", protocol.IssuanceResume{Token: token})
	if err != nil {
		return nil, st, err
	}
	if err := json.Unmarshal(ans.Body, &st); err != nil {
		return nil, st, fmt.Errorf("client: resume: %w", err)
	}
	return &Application{c: c, base: base, ID: id, Token: token}, st, nil
}

func (c *Client) issuance(ctx context.Context, app, name string, body any) (protocol.Envelope, error) {
	env := protocol.Envelope{Type: protocol.TypeIssuance, Act: app, Name: name}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return env, err
		}
		env.Body = b
	}
	return c.Do(ctx, env)
}

// Do sends one issuance request about the application (a command or a
// query by name) and returns the answer.
func (a *Application) Do(ctx context.Context, name string, body any) (protocol.Envelope, error) {
	return a.c.issuance(ctx, a.ID, name, body)
}

// Status is the application as the applicant sees it.
func (a *Application) Status(ctx context.Context) (protocol.IssuanceStatus, error) {
	var st protocol.IssuanceStatus
	ans, err := a.Do(ctx, "status", nil)
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(ans.Body, &st)
	return st, err
}

// ConfirmFields confirms the recognised fields of the status, unchanged.
func (a *Application) ConfirmFields(ctx context.Context, recognised any) error {
	fields, err := json.Marshal(recognised)
	if err != nil {
		return err
	}
	_, err = a.Do(ctx, "confirm_fields", map[string]json.RawMessage{"fields": fields})
	return err
}

// SubmitRequests sends the PKCS#10 requests (DER by purpose, AUTH and SIGN).
func (a *Application) SubmitRequests(ctx context.Context, email string, csrs []ca.KeyRequest) error {
	req := protocol.IssuanceRequests{Email: email}
	for _, r := range csrs {
		req.CSRs = append(req.CSRs, protocol.IssuanceCSR{Purpose: string(r.Purpose), DER: base64.StdEncoding.EncodeToString(r.DER)})
	}
	_, err := a.Do(ctx, "submit_requests", req)
	return err
}

// Certificates fetches the issued certificates.
func (a *Application) Certificates(ctx context.Context) ([]issuance.Certificate, error) {
	ans, err := a.Do(ctx, "certificates", nil)
	if err != nil {
		return nil, err
	}
	var got struct {
		Certificates []protocol.IssuanceCertificate `json:"certificates"`
	}
	if err := json.Unmarshal(ans.Body, &got); err != nil {
		return nil, fmt.Errorf("client: certificates: %w", err)
	}
	var out []issuance.Certificate
	for _, c := range got.Certificates {
		der, err := base64.StdEncoding.DecodeString(c.DER)
		if err != nil {
			return nil, fmt.Errorf("client: certificate %s is not base64: %w", c.Serial, err)
		}
		out = append(out, issuance.Certificate{Purpose: issuance.KeyPurpose(c.Purpose), Serial: c.Serial, NotAfter: c.NotAfter, DER: der})
	}
	return out, nil
}

// Upload posts a file for purpose (selfie, liveness, document_front,
// document_back, passport_page) with the application's token. A refusal
// is an *Error with the server's code.
func (a *Application) Upload(ctx context.Context, purpose string, body io.Reader) error {
	u := strings.TrimSuffix(a.base, "/") + "/issuance/" + url.PathEscape(a.ID) + "/uploads/" + url.PathEscape(purpose)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("client: upload %s: %w", purpose, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode == http.StatusCreated {
		return nil
	}
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) != nil || e.Code == "" {
		return fmt.Errorf("client: upload %s: HTTP %d %s", purpose, res.StatusCode, bytes.TrimSpace(b))
	}
	return &Error{Code: e.Code, Message: e.Message}
}
