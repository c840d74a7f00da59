package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/protocol"
)

// Signing with eGov mobile in `senim client --egov`: each signature is
// asked of the citizen's phone through a sign_link; the link is printed
// (the QR text for another device, the deep link for the same one, and
// the QR image's URL) and the client waits for the phone's signature.

// phoneSign gets a CMS from the phone for q and returns it base64.
func phoneSign(ctx context.Context, c *client.Client, out io.Writer, httpBase, actID string, q protocol.SignLinkQuery) (string, error) {
	l, err := c.SignLink(ctx, actID, q)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(out, "sign %s in eGov mobile (until %s):\n  QR:        %s\n  QR image:  %s%s\n  deep link: %s\n  stand-in:  senim dev egov-mobile --p12 … --password … '%s'\nwaiting for the phone…\n",
		q.What, l.ExpiresAt.Local().Format("15:04:05"), l.QR, httpBase, l.QRPNG, l.DeepLink, l.QR)
	cms, err := c.WaitSigned(ctx, l)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(cms), nil
}

// applyByPhone prepares an application and has the phone sign it.
func (r *repl) applyByPhone(ctx context.Context, phone, attorneyIIN string) (string, error) {
	p := protocol.PrepareApplication{ActionType: "power_of_attorney", Phone: phone, AttorneyIIN: attorneyIIN, Consent: true}
	var prep protocol.PreparedApplication
	if err := r.c.Query(ctx, "prepare_application", "", p, &prep); err != nil {
		return "", err
	}
	cms, err := phoneSign(ctx, r.c, r.out, r.http, "", protocol.SignLinkQuery{What: "application", Application: &protocol.SignLinkApplication{
		Act: prep.Act, ActionType: p.ActionType, Phone: p.Phone, AttorneyIIN: p.AttorneyIIN, Consent: true}})
	if err != nil {
		return "", err
	}
	body := map[string]any{"action_type": p.ActionType, "phone": p.Phone, "attorney_iin": p.AttorneyIIN, "consent": true, "cms": cms}
	_, err = r.c.Command(ctx, prep.Act, "submit_application", body)
	return prep.Act, err
}

// myDocuments prints what the client saved to Digital documents.
func (r *repl) myDocuments(ctx context.Context) {
	var res protocol.MyDocuments
	if err := r.c.Query(ctx, "my_documents", "", nil, &res); err != nil {
		r.report(err, "")
		return
	}
	for _, d := range res.Documents {
		fmt.Fprintf(r.out, "%s  act %s  code %s  %d bytes  sha256 %s…  saved %s\n", d.ID, d.Act, d.Code, d.Size, d.SHA256[:min(12, len(d.SHA256))], d.SavedAt.Local().Format("02.01.2006 15:04"))
	}
	if len(res.Documents) == 0 {
		fmt.Fprintln(r.out, "no documents saved")
	}
}

// egovWhat maps a signing step of the REPL to the sign_link's what.
func egovWhat(what string) string {
	if what == "draft" {
		return "approval"
	}
	return strings.TrimSpace(what)
}
