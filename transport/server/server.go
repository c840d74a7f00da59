// Package server assembles a Senim server from its configuration: the
// event log, the trust store, the notaries' accounts, the bank, the actors
// and the HTTP listener with the websocket gateway. `senim serve` runs one;
// tests run one in-process on 127.0.0.1:0.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
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
	"github.com/senim-kz/senim/digidocs"
	"github.com/senim-kz/senim/document"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/egovmobile"
	"github.com/senim-kz/senim/internal/pseudonym"
	"github.com/senim-kz/senim/internal/pwlimit"
	"github.com/senim-kz/senim/media/playback"
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
	Bank      bank.Bank
	Registry  *registry.Sim
	TURN      *turn.Server // nil when turn.enabled is false
	SFU       *sfu.SFU     // nil when media.enabled is false
	Actors    *actors.System
	Gateway   *gateway.Gateway
	// CheckpointKey signs the event log's checkpoints.
	CheckpointKey *pki.Key
	checkpoints   *checkpoint.Runner

	ln           net.Listener
	http         *http.Server
	errc         chan error
	checkLimiter *ipLimiter
	now          func() time.Time
	stopReload   chan struct{}

	// IssuanceDev are the stand-ins of remote EDS issuance's ports in
	// development (issuance.go).
	IssuanceDev IssuanceDevs

	// Egov holds the eGov mobile signing links (egov.go).
	Egov *egovmobile.Store
	// Digidocs is the Digital documents port (digidocs.go); DigidocsSim
	// its development stand-in, nil with digidocs.mode = "http".
	Digidocs    digidocs.Port
	DigidocsSim *digidocs.Sim

	// BankSim is the development bank stand-in (bank.mode = "dev"), nil
	// with a real provider.
	BankSim *bank.Sim

	// Recordings are the links that play a call's recording (recordings.go);
	// recordDir is where the recordings are ("" records none).
	Recordings *playback.Links
	recordDir  string

	// Operators are the /ops dashboard's accounts (ops.go).
	Operators   *accounts.Operators
	opsSessions *opsSessions
	opsFailures *opsFailures
	opsSampler  *opsSampler
}

// Options are what tests change besides the configuration.
type Options struct {
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// MediaUDP, tests only: the SFU's one UDP socket for every call (one
	// whose network the test impairs), instead of a port per connection.
	MediaUDP net.PacketConn
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
	s := &Server{cfg: cfg, log: log, Recordings: newRecordingLinks(), errc: make(chan error, 1), checkLimiter: newIPLimiter(cfg.Limits.ChecksPerMinute, cfg.Limits.ChecksPerMinute),
		now: now, stopReload: make(chan struct{})}
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
	if s.Operators, err = accounts.OpenOperators(OperatorsPath(cfg.DataDir)); err != nil {
		return nil, err
	}
	s.opsSessions = newOpsSessions(cfg.Ops.SessionTTL.Std(), cfg.Ops.MaxSessions)
	s.opsFailures = &opsFailures{limit: cfg.Ops.MaxLoginFailures, byIP: map[string]opsWindow{}}
	if s.Registry, err = registry.OpenSim(RegistryPath(cfg.DataDir)); err != nil {
		return nil, err
	}
	if err = s.openDigidocs(cfg); err != nil {
		return nil, err
	}
	if err = s.openBank(cfg, log.With().Str("component", "bank").Logger()); err != nil {
		return nil, err
	}
	if s.Log, err = eventlog.Open(filepath.Join(cfg.DataDir, "eventlog"), eventlog.Options{
		Logger: log, HeadCache: cfg.EventLog.HeadCache, BlockCache: int64(cfg.EventLog.BlockCacheMB) << 20,
		AppendObserver: func(d time.Duration) { metrics.AppendSeconds.Observe(d.Seconds()) },
		SyncObserver:   func(d time.Duration) { metrics.WALSyncSeconds.Observe(d.Seconds()) },
	}); err != nil {
		s.closeBank()
		return nil, err
	}
	metrics.SetStore(s.Log.StoreStats)
	metrics.SetCRLs(func() []metrics.CRLFile { return crlMetrics(s.Trust) })
	var media actors.Media
	if cfg.TURN.Enabled {
		if media.ICEServers, err = s.startTURN(cfg, now); err != nil {
			s.Log.Close()
			s.closeBank()
			return nil, err
		}
	}
	media.MaxRecordingBytes = cfg.Call.MaxRecordingBytes
	if cfg.Media.Enabled {
		m := cfg.Media
		sc := SFUConfig(m, log)
		sc.UDPConn = opts.MediaUDP
		media.SFU, err = sfu.New(sc)
		s.SFU = media.SFU
		if err != nil {
			s.closeTURN()
			s.Log.Close()
			s.closeBank()
			return nil, err
		}
		if m.Record {
			media.RecordDir = m.RecordDir
			if !filepath.IsAbs(media.RecordDir) {
				media.RecordDir = filepath.Join(cfg.DataDir, media.RecordDir)
			}
			s.recordDir = media.RecordDir
		}
	}
	// Log lines name people by a keyed hash of their IIN; the key stays in
	// the data directory, so the pseudonyms hold across restarts.
	logSecret, err := loadOrMakeSecret(filepath.Join(cfg.DataDir, "log.secret"))
	if err != nil {
		s.closeSFU()
		s.closeTURN()
		s.Log.Close()
		s.closeBank()
		return nil, err
	}
	f := cfg.Fees
	// Acts record the document's inputs with its code and render with them;
	// legacy renders only acts coded before inputs were recorded.
	legacy := act.DocumentInputs{Place: cfg.Document.Place, PublicURL: cfg.Document.PublicURL}
	record := legacy
	record.Format = document.CurrentFormat()
	s.Actors, err = actors.Start(actors.Deps{Media: media, Pseudonyms: pseudonym.New([]byte(logSecret)),
		Log: s.Log, Trust: s.Trust, MaxSkew: cfg.PKI.MaxClockSkew.Std(), Now: now, Logger: log, Bank: s.Bank, Registry: s.Registry,
		Rules: act.Rules{MRP: act.Money(f.MRPTenge*100 + 0.5), StateDutyMRP: f.StateDutyMRP, ServicesMRP: f.ServicesMRP,
			MaxTermMonths: f.MaxTermMonths, DefaultTermMonths: f.DefaultTermMonths,
			InvoiceTTL: cfg.Act.InvoiceTTL.Std(), ExpireAfter: cfg.Act.ExpireAfter.Std(),
			CallMaxWait: cfg.Desk.MaxWait.Std(), CallMaxLength: cfg.Call.MaxLength.Std(),
			DocumentText: func(st *act.State) []byte {
				text, _ := document.Canonical(document.FactsOf(st, legacy)) // an unknown template version: nil, refused by Decide
				return text
			}},
		Document: record, ActIdleAfter: cfg.Act.IdleAfter.Std(), ActSnapshotEvery: cfg.Act.SnapshotEvery, OperatorGrace: cfg.Desk.OperatorGrace.Std(),
	})
	if err != nil {
		s.closeSFU()
		s.closeTURN()
		s.Log.Close()
		s.closeBank()
		return nil, err
	}
	s.checkpoints = checkpoint.Start(s.Log, s.CheckpointKey, cfg.Checkpoint.Interval.Std(), now, log)
	s.opsSampler = newOpsSampler(s.Actors, s.Log, now, log.With().Str("component", "ops").Logger())
	if s.Egov, err = newEgovStore(cfg, s); err != nil {
		s.Actors.Stop()
		s.closeTURN()
		s.Log.Close()
		s.closeBank()
		return nil, err
	}
	if err = s.startIssuance(cfg, now); err != nil {
		s.Actors.Stop()
		s.closeTURN()
		s.Log.Close()
		s.closeBank()
		return nil, err
	}
	l := cfg.Limits
	s.Gateway = &gateway.Gateway{
		Session: actors.SessionDeps{Sys: s.Actors, Accounts: s.Accounts,
			Admission: actors.NewAdmission(cfg.Admission.MaxInFlight, cfg.Admission.RetryAfter.Std()).BoundDelay(cfg.Admission.MaxDelay.Std(), now),
			Passwords: pwlimit.New(pwlimit.Config{Workers: cfg.Admission.PasswordChecks, Queue: cfg.Admission.PasswordQueue,
				Failures: cfg.Admission.LoginFailures, Lockout: cfg.Admission.Lockout.Std(), RetryAfter: cfg.Admission.RetryAfter.Std(), Now: now}),
			Limits: actors.SessionLimits{MaxInFlight: l.MaxInFlight, RatePerSecond: l.RatePerSecond, Burst: l.Burst,
				SigninTimeout: l.SigninTimeout.Std(), MaxAge: l.SessionMaxAge.Std()},
			PDF: func(st *act.State) ([]byte, error) {
				return document.PDF(document.FactsOf(st, legacy), document.SignatureOf(st))
			},
			DraftPDF: func(st *act.State, rev int) ([]byte, error) {
				f, ok := document.DraftFacts(st, rev, legacy)
				if !ok {
					return nil, fmt.Errorf("revision %d is not presented", rev)
				}
				mark, err := draftMark()
				if err != nil {
					return nil, err
				}
				return document.DraftPDF(f, mark)
			},
			Resume:        actors.NewResumeStore(cfg.Session.ResumeTTL.Std(), cfg.Session.ResumeMax),
			Summaries:     actors.NewSummaryCache(actors.DefaultSummaryCacheSize),
			QueueEstimate: cfg.Session.QueueEstimate.Std(),
			Egov:          s.Egov,
			Digidocs:      s.Digidocs,
			Recordings:    &actors.RecordingLinks{Links: s.Recordings, Now: now}},
		Limits: gateway.Limits{MaxConns: l.MaxConns, MaxFrame: l.MaxFrameBytes, OutboundSize: l.OutboundQueue,
			MaxPerIP: l.MaxConnsPerIP, PingInterval: l.PingInterval.Std()},
		OriginPatterns: cfg.HTTP.AllowedOrigins,
		ClientIP:       clientIP,
		Log:            log,
	}
	// A revoked certificate or a removed notary ends the sessions it opened.
	s.Trust.OnChange(s.Gateway.Recheck)
	s.Accounts.OnChange(s.Gateway.Recheck)
	return s, nil
}

// startTURN starts the embedded TURN server and returns what hands out its
// credentials: to a participant of an act's call, valid for
// turn.credential_ttl, under a pseudonym.
func (s *Server) startTURN(cfg config.Config, now func() time.Time) (func(actID, participant string) []protocol.ICEServer, error) {
	t := cfg.TURN
	secret, err := loadOrMakeSecret(filepath.Join(cfg.DataDir, "turn.secret"))
	if err != nil {
		return nil, err
	}
	// The server's addresses besides its interfaces': a relay to them would
	// reach what it serves (refused unless allow_loopback).
	self := append([]string{}, cfg.Media.PublicIPs...)
	if host, _, err := net.SplitHostPort(cfg.HTTP.Addr); err == nil {
		self = append(self, host)
	}
	tlsConfig, tlsHost, err := turnTLS(cfg, now())
	if err != nil {
		return nil, err
	}
	s.TURN, err = turn.Start(turn.Config{Addr: t.Addr, RelayIP: t.RelayIP, Realm: t.Realm, Secret: secret,
		AllowLoopback: t.AllowLoopback, AllowPrivate: t.AllowPrivate, Now: now,
		UDPSockets: t.UDPSockets, ReadBuffer: t.ReadBuffer, Self: self,
		PionUDP: t.RelayEngine == "pion", RelayEngines: t.RelayEngines,
		MaxAllocationsPerUser: t.MaxAllocationsPerUser, MaxBitratePerUser: t.MaxBitratePerUser,
		TLSAddr: t.TLSAddr, TLS: tlsConfig}, s.log.With().Str("component", "turn").Logger())
	if err != nil {
		return nil, err
	}
	// The order is the order of preference: UDP, then TCP, then TLS on
	// 443 for networks that let nothing else out.
	hostPort := net.JoinHostPort(t.RelayIP, fmt.Sprint(s.TURN.Port()))
	urls := []string{"turn:" + hostPort + "?transport=udp", "turn:" + hostPort + "?transport=tcp"}
	if s.TURN.TLSPort() != 0 {
		urls = append(urls, "turns:"+net.JoinHostPort(tlsHost, fmt.Sprint(s.TURN.TLSPort()))+"?transport=tcp")
	}
	return func(actID, participant string) []protocol.ICEServer {
		u, p := s.TURN.Credentials(actID, participant, t.CredentialTTL.Std())
		return []protocol.ICEServer{{URLs: urls, Username: u, Credential: p}}
	}, nil
}

// turnTLS is the certificate of TURN over TLS and the host its turns: URL
// names: turn.tls_cert, else http.tls_cert (both re-read when they change),
// else a self-signed one made under data_dir for relay_ip (development).
func turnTLS(cfg config.Config, now time.Time) (*tls.Config, string, error) {
	t := cfg.TURN
	if t.TLSAddr == "" {
		return nil, "", nil
	}
	certFile, keyFile, host := t.TLSCert, t.TLSKey, t.TLSHost
	if certFile == "" && cfg.HTTP.TLS() {
		certFile, keyFile = cfg.HTTP.TLSCert, cfg.HTTP.TLSKey
	}
	if certFile == "" {
		var err error
		if certFile, keyFile, err = turn.DevCertificate(cfg.DataDir, []string{t.RelayIP}, now); err != nil {
			return nil, "", err
		}
		if host == "" {
			host = t.RelayIP
		}
	}
	if host == "" {
		if host = cfg.Document.PublicHost(); host == "" {
			host = t.RelayIP
		}
	}
	certs := &certReloader{certPath: certFile, keyPath: keyFile, log: zerolog.Nop()}
	if err := certs.reload(); err != nil {
		return nil, "", fmt.Errorf("turn: TLS certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}, host, nil
}

func (s *Server) closeSFU() {
	if s.SFU != nil {
		_ = s.SFU.Close()
	}
}

func (s *Server) closeTURN() {
	if s.TURN != nil {
		_ = s.TURN.Close()
	}
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
	ts.RequireCRL(cfg.PKI.RequireCRL)
	return ts, ca, nil
}

// Start listens on the configured address and serves until Close: HTTPS
// when http.tls_cert and tls_key are set, plain HTTP otherwise.
func (s *Server) Start() error {
	scheme, h := "http", s.cfg.HTTP
	var tlsConfig *tls.Config
	if h.TLS() {
		certs, err := newCertReloader(h.TLSCert, h.TLSKey, s.log.With().Str("component", "tls").Logger())
		if err != nil {
			return err
		}
		scheme, tlsConfig = "https", &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	}
	ln, err := net.Listen("tcp", h.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	if s.BankSim != nil {
		s.BankSim.SetBaseURL(scheme + "://" + selfAddr(ln.Addr()))
		if err := s.BankSim.Resume(); err != nil {
			s.log.Warn().Err(err).Msg("bank stand-in: pending callbacks not resumed")
		}
	}
	s.Egov.SetBaseURL(egovBaseURL(s.cfg.Document.PublicURL, scheme, ln.Addr()))
	go s.egovSweep()
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}
	go func() {
		if tlsConfig != nil {
			s.errc <- s.http.ServeTLS(ln, "", "")
			return
		}
		s.errc <- s.http.Serve(ln)
	}()
	go s.reloadLoop()
	// Acts idle past act.expire_after expire; the sweep stops with the reload loop.
	go s.Actors.SweepEvery(s.cfg.Act.SweepInterval.Std(), s.stopReload)
	if s.Actors.Issuance() != nil {
		go s.Actors.IssuanceSweepEvery(s.cfg.Issuance.SweepInterval.Std(), s.stopReload)
	}
	go s.opsSampler.run()
	if s.DevCA != nil {
		s.log.Warn().Str("dir", s.DevCA.Dir()).Str("root_sha256", pki.Fingerprint(s.DevCA.Root())).
			Msg("trusting the development CA (NOT NUC); set pki.dev_ca = false in production")
	}
	s.log.Info().Str("addr", scheme+"://"+ln.Addr().String()).Str("data_dir", s.cfg.DataDir).Msg("senim listening")
	return nil
}

// selfAddr is where this process reaches its own listener: a loopback
// address when it listens on all interfaces, whose Host the allow-list
// always admits.
func selfAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(ta.Port))
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
	close(s.stopReload)
	if s.http != nil {
		// Before Shutdown: it waits for the dashboards' endless streams,
		// which end when the sampler stops.
		s.opsSampler.close()
	}
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	s.Actors.Stop()
	s.checkpoints.Stop() // the last checkpoint, after the last append
	s.closeSFU()
	s.closeTURN()
	s.closeBank()
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
	mux.HandleFunc("GET /verify/{$}", s.codeForm)
	mux.HandleFunc("POST /bank/callback", s.bankCallback)
	s.bankRoutes(mux)
	s.opsRoutes(mux)
	s.recordingRoutes(mux)
	s.egovRoutes(mux)
	s.issuanceRoutes(mux)
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
	return newHTTPSec(s.cfg, s.log).wrap(mux)
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
		s.log.Warn().Str("ip", clientIP(r)).Msg("bank callback with a bad signature")
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
	case res.Code == string(act.CodeInvoiceExpired):
		// The payer paid too late: the money goes back through the bank
		// before the bank hears the refusal. A refund that fails answers
		// 503, so the bank delivers again and the refund is retried (it is
		// idempotent by payment id).
		if err := s.Bank.Refund(ctx, cb.PaymentID, cb.Amount, res.Code); err != nil {
			metrics.BankCallbacks.WithLabelValues("refund_failed").Inc()
			s.log.Error().Err(err).Str("act", cb.ActID).Str("payment", cb.PaymentID).Msg("refund of a payment after the invoice expired failed")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": "internal", "message": "the refund did not go through; deliver again"})
			return
		}
		metrics.BankCallbacks.WithLabelValues(res.Code).Inc()
		writeJSON(w, http.StatusConflict, map[string]string{"code": res.Code, "message": res.Message})
	default:
		metrics.BankCallbacks.WithLabelValues(res.Code).Inc()
		writeJSON(w, http.StatusConflict, map[string]string{"code": res.Code, "message": res.Message})
	}
}

// draftMark is how a draft's PDF is marked, in the document's languages
// (Russian and Kazakh), from the pages catalogs: draft.mark and draft.note.
func draftMark() (document.DraftMark, error) {
	c, err := web.PageCatalogs()
	if err != nil {
		return document.DraftMark{}, err
	}
	both := func(key string) string {
		ru, kk := c["ru"][key], c["kk"][key]
		if ru == "" || kk == "" {
			return ""
		}
		return ru + " / " + kk
	}
	m := document.DraftMark{Mark: both("draft.mark"), Note: both("draft.note")}
	if m.Mark == "" {
		return m, errors.New("server: the pages catalogs lack draft.mark")
	}
	return m, nil
}

// SFUConfig is the SFU's configuration from [media], as serve starts it
// (bench/fanout starts the same).
func SFUConfig(m config.Media, log zerolog.Logger) sfu.Config {
	tcpAddr := "" // ICE over TCP, on loopback alone like the UDP candidates in development
	if m.TCPPort != 0 {
		tcpAddr = net.JoinHostPort(map[bool]string{true: "127.0.0.1", false: "0.0.0.0"}[m.LoopbackOnly], fmt.Sprint(m.TCPPort))
	}
	return sfu.Config{UDPPortMin: m.UDPPortMin, UDPPortMax: m.UDPPortMax, PublicIPs: m.PublicIPs,
		LoopbackOnly: m.LoopbackOnly, PLIInterval: m.PLIInterval.Std(), TCPAddr: tcpAddr, Logger: log.With().Str("component", "sfu").Logger(),
		BWEInitial: m.BWEInitial, BWEMax: m.BWEMax, VideoPauseBelow: m.VideoPauseBelow, VideoResumeAbove: m.VideoResumeAbove,
		NoSegmentation: !m.UDPSegmentation}
}
