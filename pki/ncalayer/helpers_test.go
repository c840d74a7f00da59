package ncalayer_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func httpClient(cfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}
