package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/senim-kz/senim/pki"
)

func cmdServe(args []string) error {
	fs := flag.NewFlagSet("senim serve", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, os.Stderr)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	ts, ca, err := openTrust(cfg, time.Now())
	if err != nil {
		return err
	}
	if ca != nil {
		log.Warn().Str("dir", ca.Dir()).Str("root_sha256", pki.Fingerprint(ca.Root())).
			Msg("trusting the development CA (NOT NUC); set pki.dev_ca = false in production")
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	// The anchors and intermediates signatures are judged against, for
	// auditors who check with openssl (-CAfile).
	mux.HandleFunc("GET /pki/trust.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		for _, c := range append(append(ts.Roots()[:0:0], ts.Roots()...), ts.Intermediates()...) {
			_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
	})
	if ca != nil {
		// The development CA publishes its CRLs here.
		for _, p := range ca.CRLPaths() {
			p := p
			mux.HandleFunc("GET /pki/crl/"+filepath.Base(p), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/pkix-crl")
				http.ServeFile(w, r, p)
			})
		}
	}

	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info().Str("addr", "http://"+ln.Addr().String()).Str("data_dir", cfg.DataDir).Msg("senim listening")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
