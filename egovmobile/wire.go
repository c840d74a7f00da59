package egovmobile

import (
	"net/url"
	"strings"
	"time"
)

// The signing methods of a Documents: the CMS holds the data (attached) or
// not (detached, the verifier supplies it).
const (
	MethodWithData = "CMS_WITH_DATA"
	MethodSignOnly = "CMS_SIGN_ONLY"
)

// The values of the "purpose" meta entry, which tells the phone which key
// signs: the authentication key for a sign-in, the signing key otherwise.
const (
	PurposeAuth = "auth"
	PurposeSign = "sign"
)

// Organisation names the system that asks for the signature.
type Organisation struct {
	NameRu string `json:"nameRu"`
	NameKz string `json:"nameKz"`
	NameEn string `json:"nameEn"`
	BIN    string `json:"bin"`
}

// DocumentRef says where the phone fetches the documents to sign.
type DocumentRef struct {
	URI      string `json:"uri"`
	AuthType string `json:"auth_type"`
}

// Descriptor is the API URL's answer: what is signed, for whom, until when.
type Descriptor struct {
	Description  string       `json:"description"`
	ExpiryDate   time.Time    `json:"expiry_date"`
	Organisation Organisation `json:"organisation"`
	Document     DocumentRef  `json:"document"`
}

// Meta is one name–value line shown with a document.
type Meta struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// File is a document's content: base64 of the bytes to sign on GET, base64
// of the CMS on PUT.
type File struct {
	Mime string `json:"mime"`
	Data string `json:"data"`
}

// DocumentBody wraps a File as the protocol nests it.
type DocumentBody struct {
	File File `json:"file"`
}

// DocumentToSign is one document of a Documents.
type DocumentToSign struct {
	ID       int          `json:"id"`
	NameRu   string       `json:"nameRu"`
	NameKz   string       `json:"nameKz"`
	NameEn   string       `json:"nameEn"`
	Meta     []Meta       `json:"meta"`
	Document DocumentBody `json:"document"`
}

// Purpose returns the value of the "purpose" meta entry, "" if none.
func (d DocumentToSign) Purpose() string {
	for _, m := range d.Meta {
		if m.Name == "purpose" {
			return m.Value
		}
	}
	return ""
}

// Documents is the document URL's answer (GET) and the phone's signed
// answer (PUT).
type Documents struct {
	SignMethod      string           `json:"signMethod"`
	Version         int              `json:"version"`
	DocumentsToSign []DocumentToSign `json:"documentsToSign"`
}

// ErrorBody is the JSON of every refusal of the HTTP endpoints.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// The refusal codes of the HTTP endpoints (besides the signature codes of
// pki and content_mismatch, signer_mismatch of domain/act).
const (
	CodeLinkUnknown = "link_unknown" // 404: no such link (or never was)
	CodeLinkExpired = "link_expired" // 410: past its expiry, unused
	CodeLinkUsed    = "link_used"    // 409: already signed, or replaced by a newer link
	CodeBadRequest  = "bad_request"  // 400: the PUT is not the documents JSON
	CodeTooLarge    = "too_large"    // 413: a body over the limit
	// CodeSignerMismatch: the CMS is by another person than the session's.
	CodeSignerMismatch = "signer_mismatch"
	// CodeContentMismatch: the CMS is not over the exact bytes of the link.
	CodeContentMismatch = "content_mismatch"
)

// DeepLinkBase is eGov mobile's app link, which opens the app on the same
// device with the API URL as its link parameter.
const DeepLinkBase = "https://mgovsign.page.link/"

// QRText is the text of the QR code for an API URL.
func QRText(apiURL string) string { return "mobileSign:" + apiURL }

// DeepLink wraps an API URL in eGov mobile's app link.
func DeepLink(apiURL string) string {
	return DeepLinkBase + "?link=" + url.QueryEscape(apiURL) + "&isi=1476128386&ibi=kz.egov.mobile&apn=kz.mobile.mgov"
}

// APIURL takes what a phone is given (the QR text, the deep link or the bare
// API URL) and returns the API URL, "" when it is none of these.
func APIURL(link string) string {
	link = strings.TrimSpace(link)
	if rest, ok := strings.CutPrefix(link, "mobileSign:"); ok {
		link = rest
	}
	if strings.HasPrefix(link, DeepLinkBase) {
		u, err := url.Parse(link)
		if err != nil {
			return ""
		}
		link = u.Query().Get("link")
	}
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return link
}
