// Package egovmobile is Senim's side of eGov mobile's signing protocol
// ("QR signing"): the phone of a citizen signs with the cloud EDS of the
// eGov mobile app what Senim asks, by a QR code (cross-device) or a deep
// link (same device).
//
// A websocket session asks for a link (the sign_link query); the Store
// keeps it, bound to that session and to the exact bytes to sign, for
// egov.link_ttl. The phone GETs the API URL (a Descriptor), GETs the
// document URL (Documents), and PUTs the same Documents back with the CMS
// in place of the data. The Store judges the CMS as an NCALayer signature
// is judged (trust store, key usage, live signing time, the exact bytes,
// the session's person) and hands it to the session, which pushes it to the
// app as a "signed" message. A link is used once; only a hash of its token
// is kept, and the URL carries the token only, no personal data.
//
// The package standin plays the phone for development and tests.
package egovmobile
