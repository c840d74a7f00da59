package client

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/ncalayer"
	"github.com/senim-kz/senim/transport/protocol"
)

// signingKey asks for the person's RSA signing key, as apps ask NCALayer.
var signingKey = ncalayer.SignerParams{ExtKeyUsageOIDs: []string{pki.EKUEmailProtection}}

// Apply prepares, signs and submits a power-of-attorney application, and
// returns the new act's id.
func (c *Client) Apply(ctx context.Context, s Signer, phone, attorneyIIN string) (string, error) {
	p := protocol.PrepareApplication{ActionType: "power_of_attorney", Phone: phone, AttorneyIIN: attorneyIIN, Consent: true}
	var prep protocol.PreparedApplication
	if err := c.Query(ctx, "prepare_application", "", p, &prep); err != nil {
		return "", err
	}
	cms, err := sign(ctx, s, prep.Data)
	if err != nil {
		return "", err
	}
	body := map[string]any{"action_type": p.ActionType, "phone": p.Phone, "attorney_iin": p.AttorneyIIN, "consent": true, "cms": cms}
	if _, err := c.Command(ctx, prep.Act, "submit_application", body); err != nil {
		return prep.Act, err
	}
	return prep.Act, nil
}

// SignStep fetches the bytes of a signing step ("consent", "draft" with a
// revision, "document") and returns the base64 CMS over them, ready for the
// command's "cms".
func (c *Client) SignStep(ctx context.Context, s Signer, act, what string, revision int) (string, error) {
	var ts protocol.ToSign
	if err := c.Query(ctx, "to_sign", act, protocol.ToSignQuery{What: what, Revision: revision}, &ts); err != nil {
		return "", err
	}
	return sign(ctx, s, ts.Data)
}

func sign(ctx context.Context, s Signer, b64 string) (string, error) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("client: to_sign is not base64: %w", err)
	}
	cms, err := s.SignCMS(ctx, data, signingKey, true)
	if err != nil {
		return "", fmt.Errorf("client: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(cms), nil
}

// KeySigner signs with keys in memory, choosing among them as NCALayer
// does, by the request's filters.
type KeySigner []*pki.Key

// SignCMS signs data with the first key that passes the filters.
func (k KeySigner) SignCMS(_ context.Context, data []byte, p ncalayer.SignerParams, attached bool) ([]byte, error) {
	for _, key := range k {
		if ncalayer.Matches(key.Certificate, p) {
			return key.Sign(data, pki.SignOptions{Detached: !attached})
		}
	}
	return nil, fmt.Errorf("client: no key matches %+v", p)
}
