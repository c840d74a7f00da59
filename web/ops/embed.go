// Package ops holds the operators' dashboard (served at /ops behind an
// operator's sign-in): one page, its stylesheet and ops.js, which draws
// the live charts on <canvas> from the server-sent snapshots. No library,
// no CDN, no inline script: the server's CSP allows none.
package ops

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files is the dashboard's files: index.html, ops.css, ops.js.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	return sub
}
