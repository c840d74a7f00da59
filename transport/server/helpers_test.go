package server_test

import (
	"encoding/base64"

	"github.com/senim-kz/senim/pki/ncalayer"
)

type ncalayerParams = ncalayer.SignerParams

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
