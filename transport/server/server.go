// Package server assembles a Senim server from its configuration: the
// event log, the trust store, the notaries' accounts, the bank, the actors
// and the HTTP listener with the websocket gateway. `senim serve` runs one;
// tests run one in-process on 127.0.0.1:0.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/bank"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/media/turn"
	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/gateway"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/web"
)

// Server is a running Senim.
type Server struct {
	closeOnce sync.Once
	closeErr  error
	cfg       config.Config
	log       zerolog.Logger
	Log       *eventlog.Log
	Trust     *pki.TrustStore
	DevCA     *devca.CA // nil when pki.dev_ca is off
	Accounts  *accounts.Store
	Bank      *bank.Sim
	Registry  *registry.Sim
	TURN      *turn.Server // nil when turn.enabled is false
	Actors    *actors.System
	Gateway   *gateway.Gateway
	// CheckpointKey signs the event log's checkpoints.
	CheckpointKey *pki.Key
	checkpoints   *checkpoint.Runner

	ln           net.Listener
	http         *http.Server
	errc         chan error
	checkLimiter *ipLimiter
}

// Options are what tests change besides the configuration.
type Options struct {
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// RegistryPath is where the individuals-registry stand-in keeps its people.
func RegistryPath(dataDir string) string { return filepath.Join(dataDir, "registry.json") }

// AccountsPath is where the notaries' accounts live under a data directory.
func AccountsPath(dataDir string) string { return filepath.Join(dataDir, "notaries.json") }

// New opens everything the configuration names. It does not listen yet.
func New(cfg config.Config, log zerolog.Logger, opts Options) (*Server, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, errc: make(chan error, 1), checkLimiter: newIPLimiter(cfg.Limits.ChecksPerMinute, cfg.Limits.ChecksPerMinute)}
	var err error
	if s.Trust, s.DevCA, err = OpenTrust(cfg, now()); err != nil {
		return nil, err
	}
	if s.CheckpointKey, err = CheckpointKey(cfg, s.DevCA, s.Trust, now()); err != nil {
		return nil, err
	}
	if s.Accounts, err = accounts.Open(AccountsPath(cfg.DataDir)); err != nil {
		return nil, err
	}
	if s.Registry, err = registry.OpenSim(RegistryPath(cfg.DataDir)); err != nil {
		return nil, err
	}
	if s.Bank, err = bank.OpenSim(filepath.Join(cfg.DataDir, "bank"), log.With().Str("component", "bank").Logger()); err != nil {
		return nil, err
	}
	eventlog.AppendObserver = func(d time.Duration) { metrics.AppendSeconds.Observe(d.Seconds()) }
	if s.Log, err = eventlog.Open(filepath.Join(cfg.DataDir, "eventlog"), eventlog.Options{Logger: log}); err != nil {
		s.Bank.Close()
		return nil, err
	}
	var media actors.Media
	if cfg.Media.Enabled {
		m := cfg.Media
		media.SFU, err = sfu.New(sfu.Config{UDPPortMin: m.UDPPortMin, UDPPortMax: m.UDPPortMax, PublicIPs: m.PublicIPs,
			LoopbackOnly: m.LoopbackOnly, PLIInterval: m.PLIInterval.Std(), Logger: log.With().Str("component", "sfu").Logger()})
		if err != nil {
			s.Log.Close()
			s.Bank.Close()
			return nil, err
		}
		if m.Record {
			media.RecordDir = m.RecordDir
			if !filepath.IsAbs(media.RecordDir) {
				media.RecordDir = filepath.Join(cfg.DataDir, media.RecordDir)
			}
		}
	}
	f := cfg.Fees
	s.Actors, err = actors.Start(actors.Deps{Media: media,
		Log: s.Log, Trust: s.Trust, MaxSkew: cfg.PKI.MaxClockSkew.Std(), Now: now, Logger: log, Bank: s.Bank, Registry: s.Registry,
		Rules: act.Rules{MRP: act.Money(f.MRPTenge*100 + 0.5), StateDutyMRP: f.StateDutyMRP, ServicesMRP: f.ServicesMRP,
			MaxTermMonths: f.MaxTermMonths, DefaultTermMonths: f.DefaultTermMonths,
			DocumentText: func(st *act.State) []byte {
				return document.Canonical(document.FactsOf(st, cfg.Document.Place, cfg.Document.PublicURL))
			}},
	})
	if err != nil {
		s.Log.Close()
		s.Bank.Close()
		return nil, err
	}
	s.checkpoints = checkpoint.Start(s.Log, s.CheckpointKey, cfg.Checkpoint.Interval.Std(), now, log)
	var iceServers func(string) []protocol.ICEServer
	if cfg.TURN.Enabled {
		secret, err := loadOrMakeSecret(filepath.Join(cfg.DataDir, "turn.secret"))
		if err != nil {
			return nil, err
		}
		s.TURN, err = turn.Start(turn.Config{Addr: cfg.TURN.Addr, RelayIP: cfg.TURN.RelayIP, Realm: cfg.TURN.Realm, Secret: secret,
			AllowLoopback: cfg.TURN.AllowLoopback, AllowPrivate: cfg.TURN.AllowPrivate, Now: now,
			UDPSockets: cfg.TURN.UDPSockets, ReadBuffer: cfg.TURN.ReadBuffer}, log.With().Str("component", "turn").Logger())
		if err != nil {
			return nil, err
		}
		iceServers = func(user string) []protocol.ICEServer {
			u, p := turn.Credentials(secret, user, now(), cfg.TURN.CredentialTTL.Std())
			hostPort := net.JoinHostPort(cfg.TURN.RelayIP, fmt.Sprint(s.TURN.Port()))
			return []protocol.ICEServer{{URLs: []string{"turn:" + hostPort + "?transport=udp", "turn:" + hostPort + "?transport=tcp"}, Username: u, Credential: p}}
		}
	}
	l := cfg.Limits
	s.Gateway = &gateway.Gateway{
		Session: actors.SessionDeps{Sys: s.Actors, Accounts: s.Accounts,
			Limits: actors.SessionLimits{MaxInFlight: l.MaxInFlight, RatePerSecond: l.RatePerSecond, Burst: l.Burst},
			PDF: func(st *act.State) ([]byte, error) {
				return document.PDF(document.FactsOf(st, cfg.Document.Place, cfg.Document.PublicURL), document.SignatureOf(st))
			},
			ICEServers: iceServers},
		Limits:         gateway.Limits{MaxConns: l.MaxConns, MaxFrame: l.MaxFrameBytes, OutboundSize: l.OutboundQueue},
		OriginPatterns: cfg.HTTP.AllowedOrigins,
		Log:            log,
	}
	return s, nil
}

// OpenTrust builds the trust store of cfg: the configured roots,
// intermediates and CRLs, plus the development CA's when it is on (created
// on first use).
func OpenTrust(cfg config.Config, now time.Time) (*pki.TrustStore, *devca.CA, error) {
	files := pki.TrustFiles{Roots: cfg.PKI.Roots, Intermediates: cfg.PKI.Intermediates, CRLs: cfg.PKI.CRLs}
	var ca *devca.CA
	if cfg.PKI.DevCA {
		var err error
		if ca, err = devca.Open(filepath.Join(cfg.DataDir, "devca"), now); err != nil {
			return nil, nil, err
		}
		d := ca.TrustFiles()
		files.Roots = append(append([]string{}, files.Roots...), d.Roots...)
		files.Intermediates = append(append([]string{}, files.Intermediates...), d.Intermediates...)
		files.CRLs = append(append([]string{}, files.CRLs...), d.CRLs...)
	}
	ts, err := pki.LoadTrustStore(files)
	if err != nil {
		return nil, nil, fmt.Errorf("trust store: %w", err)
	}
	return ts, ca, nil
}

// Start listens on the configured address and serves until Close.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.Bank.SetCallbackURL("http://" + ln.Addr().String() + "/bank/callback")
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { s.errc <- s.http.Serve(ln) }()
	if s.DevCA != nil {
		s.log.Warn().Str("dir", s.DevCA.Dir()).Str("root_sha256", pki.Fingerprint(s.DevCA.Root())).
			Msg("trusting the development CA (NOT NUC); set pki.dev_ca = false in production")
	}
	s.log.Info().Str("addr", "http://"+ln.Addr().String()).Str("data_dir", s.cfg.DataDir).Msg("senim listening")
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Err delivers the HTTP server's failure, if it fails.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops the listener, the actors, the bank and the log, in that order.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *Server) close(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	s.Actors.Stop()
	s.checkpoints.Stop() // the last checkpoint, after the last append
	if s.TURN != nil {
		_ = s.TURN.Close()
	}
	s.Bank.Close()
	if err := s.Log.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// loadOrMakeSecret reads a secret file, making a random one on first use.
func loadOrMakeSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return string(b), nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(secret), 0o600); err != nil {
		return "", err
	}
	return secret, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ws", s.Gateway)
	// The browser apps: the notary's, the client's and the attorney's page.
	mux.Handle("GET /", http.FileServerFS(web.Static()))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "connections": s.Gateway.Conns()})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /protocol/schema.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/schema+json")
		_, _ = w.Write(protocol.SchemaJSON)
	})
	mux.HandleFunc("GET /verify/{code}", s.verify)
	mux.HandleFunc("POST /bank/callback", s.bankCallback)
	mux.HandleFunc("GET /bank/pay/{invoice}", s.payPage)
	mux.HandleFunc("POST /bank/pay/{invoice}", s.pay)
	mux.HandleFunc("GET /pki/trust.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		for _, c := range append(append(s.Trust.Roots()[:0:0], s.Trust.Roots()...), s.Trust.Intermediates()...) {
			_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
	})
	if s.DevCA != nil {
		for _, p := range s.DevCA.CRLPaths() {
			p := p
			mux.HandleFunc("GET /pki/crl/"+filepath.Base(p), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/pkix-crl")
				http.ServeFile(w, r, p)
			})
		}
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// bankCallback is the bank reporting a payment: HMAC-checked, then handed
// to the act as record_payment with the payment id as the command id, so
// that a repeated callback changes nothing.
func (s *Server) bankCallback(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"code": "too_large"})
		return
	}
	if err := bank.Verify(s.Bank.Secret(), body, r.Header.Get(bank.SignatureHeader)); err != nil {
		metrics.BankCallbacks.WithLabelValues("bad_signature").Inc()
		s.log.Warn().Str("remote", r.RemoteAddr).Msg("bank callback with a bad signature")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"code": "bad_signature", "message": err.Error()})
		return
	}
	var cb bank.Callback
	if err := json.Unmarshal(body, &cb); err != nil || cb.PaymentID == "" || cb.ActID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"code": "bad_request", "message": "not a payment callback"})
		return
	}
	payment, _ := json.Marshal(act.RecordPayment{InvoiceID: cb.InvoiceID, PaymentID: cb.PaymentID, Amount: act.Money(cb.Amount)})
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	ans, err := s.Actors.Ask(ctx, s.Actors.Acts(), func(replyTo *actorPID) any {
		return actors.ActCommand{ActID: cb.ActID, CommandID: "bank:" + cb.PaymentID, Actor: act.Actor{Role: act.RoleBank, ID: "bank"},
			Name: "record_payment", Body: payment, ReplyTo: replyTo}
	})
	if err != nil {
		metrics.BankCallbacks.WithLabelValues("timeout").Inc()
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": "internal", "message": err.Error()})
		return
	}
	res := ans.(actors.CommandResult)
	switch {
	case res.Code == "":
		outcome := "applied"
		if res.Duplicate {
			outcome = "duplicate"
		}
		metrics.BankCallbacks.WithLabelValues(outcome).Inc()
		writeJSON(w, http.StatusOK, map[string]any{"status": outcome, "seq": res.Seq})
	case res.Code == actors.CodeInternal:
		metrics.BankCallbacks.WithLabelValues("internal").Inc()
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": res.Code, "message": res.Message})
	default:
		metrics.BankCallbacks.WithLabelValues(res.Code).Inc()
		writeJSON(w, http.StatusConflict, map[string]string{"code": res.Code, "message": res.Message})
	}
}
