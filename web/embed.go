// Package web holds the browser apps of Senim, embedded in the server and
// served at /: one page for the notary, the client (principal) and the
// attorney. It speaks the documented protocol (transport/protocol) over the
// session websocket, signs through the NCALayer protocol (the real NCALayer
// or `senim dev ncalayer`), and holds the act's video call through the SFU.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Static is the apps' files: index.html, app.js, style.css, and pages.css
// for the server-rendered pages (the public check, the bank stand-in).
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return sub
}
