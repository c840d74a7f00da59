// Package protocol is the contract between Senim and every app: the JSON
// messages on the session websocket. PROTOCOL.md describes each message and
// schema.json is its machine-readable form; the gateway, the Go client, the
// browser apps and the load tool all follow them, and the tests hold every
// message the server sends to the schema.
package protocol

import (
	"encoding/json"
	"time"
)

// Version is the protocol version, also the websocket subprotocol name.
const Version = "senim.v1"

// Message types.
const (
	// Server to app.
	TypeChallenge  = "challenge"  // first message: the nonce to sign in with
	TypeWelcome    = "welcome"    // sign-in accepted
	TypeAck        = "ack"        // a command was applied and is durable
	TypeError      = "error"      // a message was refused
	TypeResult     = "result"     // the answer to a query
	TypeSubscribed = "subscribed" // a subscription is live; missed events follow
	TypeEvent      = "event"      // an event of a subscribed act
	TypeOffer      = "offer"      // the desk offers a waiting call to a notary
	TypeOfferGone  = "offer_gone" // that call was taken or withdrawn
	// TypeOperatorState restores a notary's console on sign-in: their
	// operator mode and the acts in progress.
	TypeOperatorState = "operator_state"

	// App to server.
	TypeSignIn    = "signin"
	TypeCommand   = "command"
	TypeQuery     = "query"
	TypeSubscribe = "subscribe"
	TypeOperator  = "operator" // a notary's operator mode: available, away, decline

	// Both ways.
	TypeMedia = "media" // the video call's signaling
)

// Media is the body of a media message. The server leads: it offers (on
// joining, when tracks come and go, and for an ICE restart) and the app
// answers; candidates trickle both ways.
type Media struct {
	// Kind is, app → server: join, offer (with offers on join), answer,
	// candidate, restart, leave; server → app: joined, offer, answer (to
	// the app's offer), candidate, closed, network.
	Kind      string        `json:"kind"`
	SDP       string        `json:"sdp,omitempty"`
	Candidate *ICECandidate `json:"candidate,omitempty"`
	// Resume, on join, keeps the participant's existing connection to the
	// SFU (the websocket came back, the page did not reload): the server
	// answers with an ICE-restart offer instead of a new connection.
	Resume bool `json:"resume,omitempty"`
	// Simulcast, on join: the app sends its camera in the simulcast layers
	// the server's offers then ask for (rids q, h, f).
	Simulcast bool `json:"simulcast,omitempty"`
	// Offers, on join: the app makes the first offer, for what it sends
	// (its camera in its own simulcast sendEncodings), and the server
	// answers; the server makes no offer before that answer, and leads
	// the connection after it.
	Offers bool `json:"offers,omitempty"`
	// Notice, on joined, is what the participants must be told: the call
	// is recorded.
	Notice string `json:"notice,omitempty"`
	// ICEServers, on joined, are the TURN servers with credentials for
	// this participant of this call: only participants get them.
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
	// Message, on closed, says why.
	Message string `json:"message,omitempty"`
	// State, on network: weak_self (your connection is too weak for
	// video: it is paused, audio goes on), weak_peer (the other
	// participant's is: they no longer see you), ok (video is back).
	State string `json:"state,omitempty"`
}

// ICECandidate is RTCIceCandidateInit as browsers write it.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Envelope is every message in both directions. Which fields are set
// depends on Type; schema.json says exactly which.
type Envelope struct {
	Type string `json:"type"`
	// ID is chosen by the app for signin, command, query, subscribe and
	// operator messages, and echoed in the answer. For a command it is the
	// idempotency key: a repeat returns the first outcome and writes nothing.
	ID string `json:"id,omitempty"`
	// Act is the act a command, subscription, event or offer is about.
	Act string `json:"act,omitempty"`
	// Name is the command, query, event or operator action.
	Name string `json:"name,omitempty"`
	// Seq is an event's sequence number in its act, the act's last sequence
	// after an ack, or the last sequence the app saw when it subscribes.
	Seq uint64 `json:"seq,omitempty"`
	// Duplicate marks the ack of a repeated command id.
	Duplicate bool `json:"duplicate,omitempty"`
	// Actor and At describe an event: who did it and when.
	Actor string     `json:"actor,omitempty"`
	At    *time.Time `json:"at,omitempty"`
	// Code and Message describe an error; Code is stable, Message is for people.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// RetryAfterMS, on an error that sheds load (overloaded, busy,
	// locked_out), is how long the app should wait before trying again.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
	// Body is the type's payload.
	Body json.RawMessage `json:"body,omitempty"`
}

// Challenge is the body of the first server message.
type Challenge struct {
	Protocol string `json:"protocol"`
	// ToSign is base64 of the bytes an EDS sign-in signs (with the AUTH key,
	// attached CMS, as NCALayer's basics.sign with decode: true does).
	ToSign     string    `json:"to_sign"`
	ServerTime time.Time `json:"server_time"`
}

// SignIn is the body of a signin message.
type SignIn struct {
	// Method is "eds" (clients and attorneys) or "password" (notaries).
	Method string `json:"method"`
	// Role is "client" or "attorney" for EDS sign-in.
	Role string `json:"role,omitempty"`
	// CMS is base64 of the CMS over the challenge's to_sign bytes.
	CMS string `json:"cms,omitempty"`
	// Login and Password are a notary's.
	Login    string `json:"login,omitempty"`
	Password string `json:"password,omitempty"`
	// Token is the resume_token of an earlier welcome, for method "resume".
	Token string `json:"token,omitempty"`
}

// Welcome is the body of a welcome message.
type Welcome struct {
	// Role is client, attorney, notary, or staff (an account of registrar
	// or moderator roles only, which is no notary).
	Role  string `json:"role"`
	IIN   string `json:"iin,omitempty"`
	Login string `json:"login,omitempty"`
	Name  string `json:"name"`
	// ResumeToken signs the same identity in again once (method "resume")
	// within session.resume_ttl; a reloaded page keeps it in sessionStorage.
	ResumeToken string `json:"resume_token,omitempty"`
}

// Signed is the part of a command body that carries an EDS signature: the
// base64 CMS, attached, over the bytes the to_sign query returned.
type Signed struct {
	CMS string `json:"cms"`
}

// ToSignQuery asks for the bytes a signing step needs.
type ToSignQuery struct {
	// What is "consent", "draft" (with Revision), "document", "revocation",
	// or "draft_preview" (with Draft): the act's notary's live preview.
	What     string `json:"what"`
	Revision int    `json:"revision,omitempty"`
	// Draft, for draft_preview, is a present_draft body not yet sent: the
	// answer is the bytes the client would sign if it were presented now.
	Draft json.RawMessage `json:"draft,omitempty"`
}

// DocumentQuery is the document query's body. Empty (or no body) asks for
// the signed act's document; Draft asks for the PDF of that presented
// revision, marked as a draft, before it is signed.
type DocumentQuery struct {
	Draft int `json:"draft,omitempty"`
}

// ToSign is the answer: base64 bytes to sign (format cms, decode true,
// encapsulate true in NCALayer's terms).
type ToSign struct {
	Data string `json:"data"`
}

// PrepareApplication asks for a new act id and the bytes of an application.
type PrepareApplication struct {
	ActionType  string `json:"action_type"`
	Phone       string `json:"phone"`
	AttorneyIIN string `json:"attorney_iin"`
	Consent     bool   `json:"consent"`
}

// PreparedApplication is the answer: the act id to submit under, and the
// bytes the client signs.
type PreparedApplication struct {
	Act  string `json:"act"`
	Data string `json:"data"`
}

// ActSummary is one line of a cabinet or register.
type ActSummary struct {
	Act          string     `json:"act"`
	Phase        string     `json:"phase"`
	PrincipalIIN string     `json:"principal_iin"`
	Principal    string     `json:"principal,omitempty"`
	Phone        string     `json:"phone,omitempty"` // the notary's register shows it for feedback
	AttorneyIIN  string     `json:"attorney_iin"`
	Notary       string     `json:"notary,omitempty"`
	DocumentCode string     `json:"document_code,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	SignedAt     *time.Time `json:"signed_at,omitempty"`
	// Date is the act's date in Almaty time, dd.mm.yyyy: the signing day
	// of a signed act, else the day it was applied for.
	Date string `json:"date,omitempty"`
	// RegistryNumber is the current draft's number in the notary's register.
	RegistryNumber string `json:"registry_number,omitempty"`
	// ActionType is the kind of notarial action.
	ActionType string `json:"action_type,omitempty"`
	// Amount is what the current draft bills, in tiyn.
	Amount int64 `json:"amount,omitempty"`
	// Status repeats Phase under the name the list queries filter by.
	Status string `json:"status,omitempty"`
}

// ListQuery is the optional body of the register and completed queries:
// a search, filters and a page. Every field may be left out.
type ListQuery struct {
	// Q matches the principal's or attorney's name or IIN, the document
	// code or the registry number, case-insensitively, as a substring.
	Q string `json:"q,omitempty"`
	// Status keeps acts in this phase.
	Status string `json:"status,omitempty"`
	// From and To (yyyy-mm-dd, Almaty time, both included) bound Date.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Page counts from 1; PerPage is at most 100, 20 when left out.
	Page    int `json:"page,omitempty"`
	PerPage int `json:"per_page,omitempty"`
}

// ActList answers the list queries: one page of summaries, newest first,
// and how many match in all.
type ActList struct {
	Acts  []ActSummary `json:"acts"`
	Total int          `json:"total"`
	// Partial is set when the list was cut short: more of the notary's
	// acts changed than one query replays; asking again continues.
	Partial bool `json:"partial,omitempty"`
}

// OperatorState is the body of operator_state, sent to a notary's session
// right after its welcome: what the console shows as the notary left it.
type OperatorState struct {
	// Available is the notary's operator mode: true if they were available
	// for calls and signed in again within desk.operator_grace (or have
	// another session open), false otherwise.
	Available bool `json:"available"`
	// InProgress are the notary's acts accepted and not finished (phase
	// with_notary), newest first, from the log: they survive a restart.
	InProgress []ActSummary `json:"in_progress"`
	// Partial: more acts changed than one sign-in reads; the register
	// lists them all.
	Partial bool `json:"partial,omitempty"`
}

// DeskQueue answers desk_queue: how many calls wait for a notary, and
// since when the oldest (left out when none waits).
type DeskQueue struct {
	Waiting     int        `json:"waiting"`
	OldestSince *time.Time `json:"oldest_since,omitempty"`
}

// QueuePosition answers queue_position: where the principal's call waits.
type QueuePosition struct {
	Position        int   `json:"position"`
	Waiting         int   `json:"waiting"`
	EstimateSeconds int64 `json:"estimate_seconds"`
}

// ICEServer is one entry of RTCPeerConnection's iceServers: TURN URLs with
// time-limited credentials (TURN REST: username "<expiry>:<pseudonym>",
// the pseudonym naming no one).
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// PaymentLink answers the payment_link query: where the act's principal
// pays its open invoice. The address itself lets its holder pay, so it goes
// to the principal alone.
type PaymentLink struct {
	URL     string `json:"url"`
	Invoice string `json:"invoice"`
	Amount  int64  `json:"amount"` // tiyn
}

// RecordingLinkQuery is the body of the recording_link query: which of the
// act's recordings (its id, as recording_finished names it).
type RecordingLinkQuery struct {
	Recording string `json:"recording"`
}

// RecordingLink answers recording_link: where the act's notary plays the
// call's WebM (a path on this server, with range requests) until
// ExpiresAt. The path is a token alone: it names no one.
type RecordingLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Offer is the body of an offer: what the notary sees when the window
// "lights green".
type Offer struct {
	Principal     string    `json:"principal"`
	PrincipalIIN  string    `json:"principal_iin"`
	AttorneyIIN   string    `json:"attorney_iin"`
	ActionType    string    `json:"action_type"`
	WaitingSince  time.Time `json:"waiting_since"`
	QueuePosition int       `json:"queue_position"`
}

// Protocol-level error codes (commands add the act core's and pki's codes).
const (
	CodeBadMessage  = "bad_message"   // not JSON, unknown type, missing field
	CodeNotSignedIn = "not_signed_in" // anything but signin before welcome
	CodeSignInFail  = "signin_failed" // wrong login or password
	CodeOverloaded  = "overloaded"    // too many commands in flight on this connection
	CodeRateLimited = "rate_limited"  // too many messages per second
	CodeTooLarge    = "too_large"     // a frame over the limit; the connection closes
	CodeUnknownName = "unknown_name"  // an unknown query or operator action
	CodeNotFound    = "not_found"     // no such act (or not yours)
	CodeInternal    = "internal"      // Senim failed; retry with the same id
	// CodeBusy: every password check is taken and the queue for them is
	// full; retry after retry_after_ms.
	CodeBusy = "busy"
	// CodeLockedOut: too many wrong passwords for this login or from this
	// address; retry after retry_after_ms.
	CodeLockedOut = "locked_out"
	// CodeAccountRemoved closes a notary's session when their account is
	// removed from the accounts file (close 1008, reason "account_removed: …").
	CodeAccountRemoved = "account_removed"
	// CodeSigninTimeout closes a connection that did not sign in within
	// limits.signin_timeout (1008).
	CodeSigninTimeout = "signin_timeout"
	// CodeReauthenticate closes a session older than
	// limits.session_max_age (1008): the app signs in again.
	CodeReauthenticate = "reauthenticate"
	// CodeNotOffered refuses a decline of a call not offered to the notary.
	CodeNotOffered = "not_offered"
	// CodeResumeExpired refuses a resume token that is unknown, used,
	// expired or for another identity: sign in again in full.
	CodeResumeExpired = "resume_expired"
	// CodeBadQuery refuses a list query's body: a bad date, status or page.
	CodeBadQuery = "bad_query"
	// CodeNotWaiting answers queue_position when the act has no call waiting.
	CodeNotWaiting = "not_waiting"
	// CodeNotPresented refuses a draft's PDF for a revision the notary has
	// not presented (the document query with draft).
	CodeNotPresented = "not_presented"
)
