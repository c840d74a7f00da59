// Package web holds the browser apps of Senim, embedded in the server and
// served at /: one page for the notary, the client (principal) and the
// attorney, in Russian, Kazakh and English (static/i18n/*.json). Its ES
// modules (static/js/) speak the documented protocol (transport/protocol)
// over the session websocket, sign through a signer (NCALayer, by the
// vendored ncalayer-js-client; the real NCALayer or `senim dev ncalayer`),
// and hold the act's video call through the SFU. No build step: the files
// are served as they are, and nothing comes from a CDN.
package web

import (
	"embed"
	"io/fs"
	"mime"
)

// The file server names a type by the file's extension; Go's own table
// has no .webmanifest, and a browser reads a manifest only as JSON.
func init() {
	_ = mime.AddExtensionType(".webmanifest", "application/manifest+json")
}

//go:embed static
var static embed.FS

// Static is the apps' files: index.html, js/, i18n/, vendor/, style.css,
// and pages.css for the server-rendered pages (the public check, the bank
// stand-in).
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return sub
}
