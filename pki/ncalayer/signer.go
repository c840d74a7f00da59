package ncalayer

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/pki"
)

// Limits of the stand-in; NCALayer has similar ones.
const (
	maxMessageBytes = 32 << 20
	maxDataItems    = 64
)

// Signer answers NCALayer-protocol requests with its keys. The zero value is
// not usable; set Keys.
type Signer struct {
	// Keys are the key stores the "user" has, as NCALayer would find them.
	Keys []*pki.Key
	// Confirm, if set, is asked before each signature, as NCALayer asks its
	// user for the password; false means the user cancelled. Nil signs.
	Confirm func(ctx context.Context, key *pki.Key, args *SignArgs) bool
	Log     zerolog.Logger
}

// ServeHTTP upgrades to a websocket, greets with the version as NCALayer
// does, and answers requests one at a time until the peer goes away.
// Any origin is accepted, as NCALayer accepts any web app.
func (s *Signer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		s.Log.Warn().Err(err).Msg("ncalayer: websocket upgrade failed")
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(maxMessageBytes)
	ctx := r.Context()
	log := s.Log.With().Str("origin", r.Header.Get("Origin")).Logger()
	log.Info().Msg("ncalayer: app connected")

	var g Greeting
	g.Result.Version = Version
	if err := writeJSON(ctx, c, g); err != nil {
		return
	}
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure && !errors.Is(err, context.Canceled) {
				log.Debug().Err(err).Msg("ncalayer: read")
			}
			return
		}
		var resp Response
		if typ != websocket.MessageText {
			resp = errorResponse(CodeBadRequest, "expected a text message")
		} else {
			resp = s.Handle(ctx, msg)
		}
		if !resp.Status {
			log.Info().Str("code", resp.Code).Str("reason", resp.Message).Msg("ncalayer: request refused")
		}
		if err := writeJSON(ctx, c, resp); err != nil {
			return
		}
	}
}

func writeJSON(ctx context.Context, c *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageText, b)
}

// Handle answers one raw request.
func (s *Signer) Handle(ctx context.Context, raw []byte) Response {
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		return errorResponse(CodeBadRequest, "request is not JSON: %v", err)
	}
	if req.Module != ModuleBasics {
		return errorResponse(CodeUnknownModule, "module %q is not available (the stand-in speaks %s)", req.Module, ModuleBasics)
	}
	switch req.Method {
	case "getVersion":
		v, _ := json.Marshal(map[string]string{"version": Version})
		return Response{Status: true, Body: &Body{Result: v}}
	case "sign":
		var args SignArgs
		if err := json.Unmarshal(req.Args, &args); err != nil {
			return errorResponse(CodeBadRequest, "sign args: %v", err)
		}
		return s.sign(ctx, &args)
	}
	return errorResponse(CodeUnknownMethod, "method %q is not available", req.Method)
}

func (s *Signer) sign(ctx context.Context, args *SignArgs) Response {
	if f := strings.ToLower(args.Format); f != "cms" {
		return errorResponse(CodeUnsupported, "format %q is not supported; use \"cms\"", args.Format)
	}
	if args.SigningParams.Digested {
		return errorResponse(CodeUnsupported, "digested data is not supported")
	}
	if len(args.AllowedStorages) > 0 && !slices.Contains(args.AllowedStorages, "PKCS12") {
		return errorResponse(CodeUnsupported, "no allowed storage is available (the stand-in has PKCS12 only)")
	}
	items, bad := dataItems(args)
	if bad != nil {
		return *bad
	}
	key := s.pick(args.SignerParams)
	if key == nil {
		return errorResponse(CodeNoSuitableKey, "no key matches the signer parameters")
	}
	if s.Confirm != nil && !s.Confirm(ctx, key, args) {
		return Response{Status: true, Body: &Body{}}
	}
	results := make([]string, 0, len(items))
	for _, data := range items {
		der, err := key.Sign(data, pki.SignOptions{Detached: !args.SigningParams.Encapsulate})
		if err != nil {
			return errorResponse(CodeSignatureFailed, "%v", err)
		}
		results = append(results, base64.StdEncoding.EncodeToString(der))
	}
	// basics answers with an array whether data was one string or many.
	out, _ := json.Marshal(results)
	s.Log.Info().Str("iin", subjectIIN(key.Certificate)).Int("items", len(items)).Bool("attached", args.SigningParams.Encapsulate).Msg("ncalayer: signed")
	return Response{Status: true, Body: &Body{Result: out}}
}

// dataItems decodes args.Data, a string or an array of strings, into the
// bytes to sign, or returns the refusal for bad data.
func dataItems(args *SignArgs) ([][]byte, *Response) {
	var raw []string
	var one string
	if err := json.Unmarshal(args.Data, &one); err == nil {
		raw = []string{one}
	} else if err := json.Unmarshal(args.Data, &raw); err != nil {
		return nil, refusal(CodeBadData, "data must be a string or an array of strings")
	}
	if len(raw) == 0 {
		return nil, refusal(CodeBadData, "no data to sign")
	}
	if len(raw) > maxDataItems {
		return nil, refusal(CodeTooManyDataBlocks, "at most %d data items at once", maxDataItems)
	}
	items := make([][]byte, len(raw))
	for i, d := range raw {
		if d == "" {
			return nil, refusal(CodeBadData, "data item %d is empty", i)
		}
		if !args.SigningParams.Decode {
			items[i] = []byte(d)
			continue
		}
		b, err := base64.StdEncoding.DecodeString(d)
		if err != nil {
			return nil, refusal(CodeBadData, "data item %d is not base64: %v", i, err)
		}
		items[i] = b
	}
	return items, nil
}

// pick returns the first key that passes every filter.
func (s *Signer) pick(p SignerParams) *pki.Key {
	for _, k := range s.Keys {
		if Matches(k.Certificate, p) {
			return k
		}
	}
	return nil
}

// Matches reports whether cert passes the signer filters of a request.
func Matches(cert *x509.Certificate, p SignerParams) bool {
	have := ekuOIDs(cert)
	for _, want := range p.ExtKeyUsageOIDs {
		if !slices.Contains(have, want) {
			return false
		}
	}
	subj, err := pki.SubjectOf(cert)
	if p.IIN != "" && (err != nil || subj.IIN.String() != p.IIN) {
		return false
	}
	if p.BIN != "" && (err != nil || subj.BIN.String() != p.BIN) {
		return false
	}
	if p.Serial != "" && !strings.EqualFold(strings.TrimLeft(p.Serial, "0"), pki.SerialHex(cert.SerialNumber)) {
		return false
	}
	return true
}

var stdEKU = map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
	x509.ExtKeyUsageServerAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 1},
	x509.ExtKeyUsageClientAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 2},
	x509.ExtKeyUsageCodeSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 3},
	x509.ExtKeyUsageEmailProtection: {1, 3, 6, 1, 5, 5, 7, 3, 4},
	x509.ExtKeyUsageTimeStamping:    {1, 3, 6, 1, 5, 5, 7, 3, 8},
	x509.ExtKeyUsageOCSPSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 9},
}

// ekuOIDs lists every extended key usage of cert as dotted OIDs.
func ekuOIDs(cert *x509.Certificate) []string {
	var out []string
	for _, u := range cert.ExtKeyUsage {
		if oid, ok := stdEKU[u]; ok {
			out = append(out, oid.String())
		}
	}
	for _, oid := range cert.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return out
}

func subjectIIN(cert *x509.Certificate) string {
	s, err := pki.SubjectOf(cert)
	if err != nil {
		return ""
	}
	return s.IIN.String()
}

func refusal(code, format string, args ...any) *Response {
	r := errorResponse(code, format, args...)
	return &r
}
