// Package ncalayer speaks the NCALayer protocol: the JSON-over-websocket
// protocol of NCALayer, the signing application that every Kazakh web app
// asks for an EDS signature on wss://127.0.0.1:13579.
//
// Signer is a development stand-in for NCALayer: it holds PKCS#12 keys and
// answers kz.gov.pki.knca.basics "sign" requests with CMS signatures, so that
// Senim's browser apps work unchanged against it and against the real
// NCALayer with real NUC keys. Client is the other side, used by tests and
// the load tool to sign exactly as a browser app would.
package ncalayer

import (
	"encoding/json"
	"fmt"
)

// DefaultAddr is where NCALayer listens.
const DefaultAddr = "127.0.0.1:13579"

// ModuleBasics is the module of the current NCALayer API.
const ModuleBasics = "kz.gov.pki.knca.basics"

// Version is what the stand-in reports as its NCALayer version.
const Version = "1.4-senim-dev"

// Request is one message from a web app.
type Request struct {
	Module string          `json:"module"`
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args,omitempty"`
}

// SignArgs are the arguments of basics.sign.
type SignArgs struct {
	// AllowedStorages lists key storages the app accepts ("PKCS12",
	// "AKKaztokenStore", "AKKZIDCardStore", …). The stand-in has PKCS12 only.
	AllowedStorages []string `json:"allowedStorages"`
	// Format is "cms" (the stand-in does not sign "xml").
	Format string `json:"format"`
	// Data is one string or an array of strings; base64 when
	// SigningParams.Decode is true, otherwise the text itself is signed.
	Data          json.RawMessage `json:"data"`
	SigningParams SigningParams   `json:"signingParams"`
	SignerParams  SignerParams    `json:"signerParams"`
	Locale        string          `json:"locale,omitempty"`
}

// SigningParams shape the signature.
type SigningParams struct {
	// Decode: the data is base64 and its decoded bytes are signed.
	Decode bool `json:"decode"`
	// Encapsulate: the content is carried inside the CMS (attached).
	Encapsulate bool `json:"encapsulate"`
	// Digested: the data is already a digest (not supported by the stand-in).
	Digested bool `json:"digested,omitempty"`
	// TSAProfile asks for a timestamp from NUC's TSA (ignored by the stand-in,
	// which has no TSA).
	TSAProfile json.RawMessage `json:"tsaProfile,omitempty"`
}

// SignerParams filter the keys that may sign. All filters must hold.
type SignerParams struct {
	// ExtKeyUsageOIDs must all be in the certificate's extended key usage,
	// e.g. "1.3.6.1.5.5.7.3.4" for a signing key, "1.3.6.1.5.5.7.3.2" for an
	// authentication key, "1.2.398.3.3.4.1.2.1" for a first head.
	ExtKeyUsageOIDs []string `json:"extKeyUsageOids,omitempty"`
	// IIN and BIN must match the certificate subject.
	IIN string `json:"iin,omitempty"`
	BIN string `json:"bin,omitempty"`
	// Serial must match the certificate serial number (hex).
	Serial string `json:"serial,omitempty"`
	// Chain is a list of base64 CA certificates (accepted, unused).
	Chain []string `json:"chain,omitempty"`
}

// Response is the reply to one request: {status:true, body:{result}} on
// success, {status:true, body:{}} when the user cancelled, and
// {status:false, code, message} on error.
type Response struct {
	Status  bool   `json:"status"`
	Body    *Body  `json:"body,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Details string `json:"details,omitempty"`
}

// Body carries the result of a successful request.
type Body struct {
	Result json.RawMessage `json:"result,omitempty"`
}

// Greeting is the first message NCALayer sends on a new connection.
type Greeting struct {
	Result struct {
		Version string `json:"version"`
	} `json:"result"`
}

// Error codes of the stand-in's {status:false} replies.
const (
	CodeBadRequest        = "BAD_REQUEST"         // not JSON, or args do not fit the method
	CodeUnknownModule     = "MODULE_NOT_FOUND"    // a module other than basics
	CodeUnknownMethod     = "METHOD_NOT_FOUND"    // a basics method the stand-in lacks
	CodeUnsupported       = "UNSUPPORTED"         // format xml, digested data, or no PKCS12 storage allowed
	CodeBadData           = "WRONG_DATA"          // empty data, or data that is not base64 when decode is set
	CodeNoSuitableKey     = "EMPTY_KEY_LIST"      // no key passes the signer filters
	CodeSignatureFailed   = "SIGNATURE_FAILED"    // signing itself failed
	CodeTooManyDataBlocks = "TOO_MANY_DATA_ITEMS" // more data items than the stand-in signs at once
)

func errorResponse(code, format string, args ...any) Response {
	return Response{Status: false, Code: code, Message: fmt.Sprintf(format, args...)}
}
