package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/web/egovpage"
)

// cmdDevEgovMobilePage serves the eGov mobile stand-in as a web page (the
// "phone" a desktop QR is opened with): paste or open a link, read the
// documents, enter the dev PIN and sign with the given keys.
func cmdDevEgovMobilePage(args []string) error {
	fs := flag.NewFlagSet("senim dev egov-mobile-page", flag.ContinueOnError)
	var p12s stringList
	fs.Var(&p12s, "p12", "PKCS#12 key store of the phone's owner (repeat: the AUTH_RSA and the RSA key)")
	password := fs.String("password", "", "password of the key stores")
	addr := fs.String("addr", "127.0.0.1:8091", "listen address; the page signs with the keys for whoever reaches it, so keep it on loopback")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(p12s) == 0 {
		fs.Usage()
		return &exitError{code: 2, msg: "at least one --p12 is required"}
	}
	var keys []*pki.Key
	for _, p := range p12s {
		k, err := pki.LoadPKCS12(p, *password)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		keys = append(keys, k)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "eGov mobile stand-in page on http://%s/ (PIN 000000); open a link with http://%s/?link=…\n", ln.Addr(), ln.Addr())
	srv := &http.Server{Handler: egovpage.Handler(keys), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
