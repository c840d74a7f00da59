// Package config is Senim's configuration: the defaults, config.toml, and
// SENIM_* environment overrides, applied in that order.
//
// Default() holds every default in code; config.toml at the repository root
// repeats them with comments, and a test keeps the two identical. Unknown keys
// in the file and unknown SENIM_* variables are errors, so that a typo never
// silently leaves a default in force.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration of a Senim server.
type Config struct {
	// DataDir holds the event log, the development CA and other state.
	DataDir  string   `toml:"data_dir"`
	Log      Log      `toml:"log"`
	HTTP     HTTP     `toml:"http"`
	PKI      PKI      `toml:"pki"`
	Fees     Fees     `toml:"fees"`
	Limits   Limits   `toml:"limits"`
	Document Document `toml:"document"`
	TURN     TURN     `toml:"turn"`
	Media    Media    `toml:"media"`
	Bank     Bank     `toml:"bank"`
	// EventLog: see the EventLog type.
	EventLog EventLog `toml:"eventlog"`
	// Checkpoint: see the Checkpoint type.
	Checkpoint Checkpoint `toml:"checkpoint"`
	// Act, Desk and Call bound acts, waits and calls in time and size.
	Act  Act  `toml:"act"`
	Desk Desk `toml:"desk"`
	Call Call `toml:"call"`
	// Ops: see the Ops type.
	Ops Ops `toml:"ops"`
	// Session: see the Session type.
	Session Session `toml:"session"`
	// Admission: load shedding (see its type).
	Admission Admission `toml:"admission"`
	// Egov: see the Egov type.
	Egov Egov `toml:"egov"`
	// Digidocs: see the Digidocs type.
	Digidocs Digidocs `toml:"digidocs"`
	// Runtime: see the Runtime type.
	Runtime Runtime `toml:"runtime"`
	// Issuance: remote EDS issuance (see its type, docs/issuance.md).
	Issuance Issuance `toml:"issuance"`
}

// Runtime tunes the Go runtime's garbage collector, which decides how much
// memory the server holds beyond its live data (`senim serve` applies it at
// start; it overrides the GOGC and GOMEMLIMIT environment variables).
type Runtime struct {
	// GOGC is how far the heap grows past the live data, in percent of
	// it, before the next collection (Go's GOGC; 100 is Go's own
	// default). Lower holds less memory for more collector CPU; -1 turns
	// the proportional trigger off, leaving only the memory limit.
	GOGC int `toml:"gogc"`
	// MemoryLimit is the soft limit of the memory the Go runtime holds
	// (runtime/debug.SetMemoryLimit): nearing it, the collector runs
	// sooner whatever GOGC says, so garbage never takes the box's memory.
	// A share, "80%", of the memory the process may use (its cgroup's
	// limit, else the machine's RAM); a size, "3GiB", "512MiB" or bytes;
	// or "off". See ParseMemoryLimit.
	MemoryLimit string `toml:"memory_limit"`
	// Procs is how many processors (GOMAXPROCS) the Go runtime runs
	// goroutines on: "adaptive", from one up to the CPUs the process may
	// use as its load needs them (internal/procs: at a light load one
	// processor spares the threads' waking per hand-off); "all", the CPUs
	// the process may use (Go's default, or the GOMAXPROCS environment
	// variable); or a number, that many. See ParseProcs.
	Procs string `toml:"procs"`
}

// ParseProcs reads Runtime.Procs: adaptive, or a fixed number of
// processors (0 for "all": the runtime's own).
func ParseProcs(spec string) (adaptive bool, n int, err error) {
	switch s := strings.TrimSpace(spec); s {
	case "adaptive":
		return true, 0, nil
	case "all":
		return false, 0, nil
	default:
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 1024 {
			return false, 0, fmt.Errorf("runtime.procs %q: want \"adaptive\", \"all\" or a number of processors from 1 to 1024", spec)
		}
		return false, v, nil
	}
}

// ParseMemoryLimit reads Runtime.MemoryLimit: a share of the memory
// available (percent > 0, at most 100), a size in bytes, or neither ("off").
func ParseMemoryLimit(spec string) (percent float64, bytes int64, err error) {
	s := strings.TrimSpace(spec)
	if s == "off" {
		return 0, 0, nil
	}
	if v, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(p > 0 && p <= 100) {
			return 0, 0, fmt.Errorf("runtime.memory_limit %q: want a share from 0%% (exclusive) to 100%%", spec)
		}
		return p, 0, nil
	}
	unit := int64(1)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = strings.TrimSpace(v), u.size
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/unit {
		return 0, 0, fmt.Errorf("runtime.memory_limit %q: want \"off\", a share such as \"80%%\", or a size such as \"3GiB\", \"512MiB\" or bytes", spec)
	}
	if n*unit < 64<<20 {
		return 0, 0, fmt.Errorf("runtime.memory_limit %q: want at least 64MiB (the collector would run without pause below it)", spec)
	}
	return 0, n * unit, nil
}

// MemoryLimitBytes is the memory limit in bytes for a process that may use
// available bytes of memory (0: unknown); false: no limit.
func (r Runtime) MemoryLimitBytes(available int64) (int64, bool) {
	p, n, err := ParseMemoryLimit(r.MemoryLimit)
	switch {
	case err != nil:
		return 0, false
	case n > 0:
		return n, true
	case p > 0 && available > 0:
		return int64(float64(available) * p / 100), true
	}
	return 0, false
}

// Issuance configures remote EDS issuance (docs/issuance.md): the rules of
// domain/issuance, the bounds of anonymous applicants, and the ports to the
// outside systems.
type Issuance struct {
	// Enabled runs the application actors and the applicant's protocol.
	Enabled bool `toml:"enabled"`
	// OTPTTL is a one-time code's lifetime and the countdown before a
	// resend; OTPMaxTries wrong entries void a code; OTPPerWindow codes per
	// IIN within OTPWindow, then a lockout.
	OTPTTL       Duration `toml:"otp_ttl"`
	OTPMaxTries  int      `toml:"otp_max_tries"`
	OTPPerWindow int      `toml:"otp_per_window"`
	OTPWindow    Duration `toml:"otp_window"`
	// MaxImageBytes and MaxVideoBytes bound uploads (photos, the liveness
	// video); MaxUploadsPerPurpose bounds attempts at each.
	MaxImageBytes        int64 `toml:"max_image_bytes"`
	MaxVideoBytes        int64 `toml:"max_video_bytes"`
	MaxUploadsPerPurpose int   `toml:"max_uploads_per_purpose"`
	// MinKeyBits is the shortest key the CA certifies.
	MinKeyBits int `toml:"min_key_bits"`
	// ExpireAfter ends an unfinished application that long after its start;
	// SweepInterval is how often the server looks for them.
	ExpireAfter   Duration `toml:"expire_after"`
	SweepInterval Duration `toml:"sweep_interval"`
	// UnverifiedExpireAfter ends sooner an application whose phone is not
	// verified (by a code or a registration call), outside a registration
	// call: a stranger cannot hold someone's IIN for expire_after.
	UnverifiedExpireAfter Duration `toml:"unverified_expire_after"`
	// CodeKeyFile holds the HMAC key of the one-time codes (at least 32
	// bytes); empty: data_dir/issuance.key, made on first start.
	CodeKeyFile string `toml:"code_key_file"`
	// MaxOpenPerIIN bounds one IIN's unfinished applications; StartsPerIP
	// bounds the applications one address starts per hour (the applicant
	// is anonymous until the phone is verified).
	MaxOpenPerIIN int `toml:"max_open_per_iin"`
	StartsPerIP   int `toml:"starts_per_ip"`
	// IdleAfter passivates an application actor idle that long (0: never).
	IdleAfter Duration `toml:"idle_after"`
	// RetryMin and RetryMax bound the backoff of an outside service that is
	// unavailable; CAPoll is the wait between fetches of unsigned certificates.
	RetryMin Duration `toml:"retry_min"`
	RetryMax Duration `toml:"retry_max"`
	CAPoll   Duration `toml:"ca_poll"`
	// The ports (docs/issuance.md): БМГ, the SMS gateway, the face checks,
	// document recognition, the CA, and the register of legal entities.
	BMG      Port `toml:"bmg"`
	SMS      Port `toml:"sms"`
	FaceID   Port `toml:"faceid"`
	DocRecog Port `toml:"docrecog"`
	CA       Port `toml:"ca"`
	LegalReg Port `toml:"legalreg"`
	// Mail is the e-mail relay: an applicant who gave an address is told
	// there when the certificates are issued.
	Mail Mail `toml:"mail"`
}

// Mail configures the e-mail port (package mail).
type Mail struct {
	// Mode is "dev" (the development stand-in: each message is written to
	// data_dir/mail-outbox, a development setting), "smtp" (a relay, with
	// STARTTLS always) or "off" (no e-mail is sent).
	Mode string `toml:"mode"`
	// From is the sender's address.
	From string `toml:"from"`
	// SMTPAddr is the relay's host:port (smtp mode; usually port 587).
	SMTPAddr string `toml:"smtp_addr"`
	// Username authenticates at the relay (AUTH PLAIN, over TLS only);
	// empty: no authentication. PasswordFile holds its password.
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	// Timeout bounds one message's conversation with the relay.
	Timeout Duration `toml:"timeout"`
}

// Ports lists the issuance ports by their config names.
func (i Issuance) Ports() []NamedPort {
	return []NamedPort{{"bmg", i.BMG}, {"sms", i.SMS}, {"faceid", i.FaceID}, {"docrecog", i.DocRecog}, {"ca", i.CA}, {"legalreg", i.LegalReg}}
}

// NamedPort is a port with its name under [issuance].
type NamedPort struct {
	Name string
	Port Port
}

// Port is the adapter of an outside system: "dev", the development
// stand-in (a development setting: DevSettings names it), or "http", its
// JSON API at URL with the bearer token in TokenFile.
type Port struct {
	Mode      string   `toml:"mode"`
	URL       string   `toml:"url"`
	TokenFile string   `toml:"token_file"`
	Timeout   Duration `toml:"timeout"`
}

// Digidocs configures the port to eGov's "Digital documents" (package
// digidocs), where a client saves a signed act's document.
type Digidocs struct {
	// Mode is "dev" (the stand-in, documents under data_dir/digidocs) or
	// "http" (the service's API at URL; format in package digidocs).
	Mode string `toml:"mode"`
	// URL is the API base (http mode).
	URL string `toml:"url"`
	// APIKeyFile holds the key Senim authenticates with (http mode).
	APIKeyFile string `toml:"api_key_file"`
	// Timeout bounds one request to the service.
	Timeout Duration `toml:"timeout"`
}

// Egov configures signing with eGov mobile (package egovmobile): the links
// a session hands to the citizen's phone. Their URLs start with
// document.public_url, which the phone must reach.
type Egov struct {
	// LinkTTL is how long a signing link is good for; an unused one then
	// answers link_expired and the app asks for a new one.
	LinkTTL Duration `toml:"link_ttl"`
	// MaxLinks caps the links held in memory; past it sign_link answers
	// overloaded.
	MaxLinks int `toml:"max_links"`
	// OrganisationBIN is the BIN the phone shows beside Senim's name.
	OrganisationBIN string `toml:"organisation_bin"`
}

// Ops configures the operators' dashboard at /ops: its sign-in sessions
// (HTTP cookies, kept in memory) and how many it keeps at once.
type Ops struct {
	// SessionTTL is how long a dashboard sign-in lasts.
	SessionTTL Duration `toml:"session_ttl"`
	// MaxSessions caps the signed-in dashboard sessions; past it the oldest
	// is dropped, so that sign-ins cannot grow memory without bound.
	MaxSessions int `toml:"max_sessions"`
	// MaxLoginFailures per client IP per minute; past it a sign-in is
	// refused with ops_login_limited before any password is hashed.
	MaxLoginFailures int `toml:"max_login_failures"`
}

// Session configures what the apps get beyond one connection: resume
// tokens and the queue's wait estimate.
type Session struct {
	// ResumeTTL is how long a welcome's resume_token signs the same
	// identity in again (once): long enough for a reload or a lost network.
	ResumeTTL Duration `toml:"resume_ttl"`
	// ResumeMax caps the tokens held in memory; past it the oldest go.
	ResumeMax int `toml:"resume_max"`
	// QueueEstimate is the wait per call ahead in the queue that
	// queue_position estimates before any call has been taken.
	QueueEstimate Duration `toml:"queue_estimate"`
}

// Admission bounds the work the whole server takes on, so that past its
// capacity it sheds load with a clear answer instead of queueing without end.
type Admission struct {
	// MaxInFlight is the number of commands and queries awaiting an answer
	// across all sessions; more are answered overloaded.
	MaxInFlight int `toml:"max_in_flight"`
	// RetryAfter is what overloaded and busy answers suggest; while work
	// in flight is past MaxInFlight, new websockets get HTTP 503 with it.
	RetryAfter Duration `toml:"retry_after"`
	// MaxDelay bounds the wait that work admitted now can expect (work in
	// flight over the rate of answers, measured): past it new websockets get
	// HTTP 503, past twice it requests on open sessions get overloaded.
	// 0: only MaxInFlight bounds.
	MaxDelay Duration `toml:"max_delay"`
	// PasswordChecks is the number of argon2id checks run at once (0: one
	// per two CPUs); PasswordQueue sign-ins may wait for one, more get busy.
	PasswordChecks int `toml:"password_checks"`
	PasswordQueue  int `toml:"password_queue"`
	// LoginFailures wrong passwords for one login (four times as many from
	// one IP) lock it out for Lockout, doubling with each further failure.
	LoginFailures int      `toml:"login_failures"`
	Lockout       Duration `toml:"lockout"`
}

// EventLog tunes the event log's memory.
type EventLog struct {
	// HeadCache is how many streams (acts, applications) the log keeps the
	// head and command filter of in memory; a stream past it is read from
	// the store again on its next append (a look-up and a scan of its
	// command keys). About 300 bytes a stream.
	HeadCache int `toml:"head_cache"`
	// BlockCacheMB is the store's block cache in MiB: the tables' index,
	// filter and data blocks kept in memory (outside Go's heap, so in the
	// process's RSS but not in go_memstats). A cache smaller than the
	// tables' index and filter blocks misses on nearly every read.
	BlockCacheMB int `toml:"block_cache_mb"`
}

// Checkpoint configures the signed checkpoints that anchor the event log's
// history (persistence/checkpoint, docs/evidence.md).
type Checkpoint struct {
	// Interval between checkpoints; one is also written on shutdown.
	Interval Duration `toml:"interval"`
	// P12 and PasswordFile are the signing key: the organisation's NUC
	// certificate in production. Empty with pki.dev_ca: a key issued by the
	// development CA on first start, kept under data_dir/checkpoint.
	P12          string `toml:"p12"`
	PasswordFile string `toml:"password_file"`
}

// Bank configures the payment provider the invoices go to.
type Bank struct {
	// Mode is "dev" (the embedded stand-in and its pay page) or "http" (a
	// real provider's HTTP API; see BANK.md).
	Mode string `toml:"mode"`
	// URL is the provider's API base (http mode): https, or http on
	// loopback only.
	URL string `toml:"url"`
	// APIKeyFile holds the key Senim authenticates to the provider with
	// (http mode).
	APIKeyFile string `toml:"api_key_file"`
	// SecretFile holds the HMAC-SHA256 key of the provider's callbacks, at
	// least 32 bytes (http mode; the stand-in makes its own).
	SecretFile string `toml:"secret_file"`
	// Timeout bounds one request to the provider; Retries more attempts
	// follow a timeout or a 5xx, Backoff apart at first, then doubling.
	Timeout Duration `toml:"timeout"`
	Retries int      `toml:"retries"`
	Backoff Duration `toml:"backoff"`
}

// Media configures the SFU that carries the video calls.
type Media struct {
	Enabled bool `toml:"enabled"`
	// UDPPortMin and UDPPortMax bound the SFU's ICE ports (0, 0: any).
	UDPPortMin uint16 `toml:"udp_port_min"`
	UDPPortMax uint16 `toml:"udp_port_max"`
	// PublicIPs are announced instead of local addresses (1:1 NAT).
	PublicIPs []string `toml:"public_ips"`
	// LoopbackOnly gathers ICE candidates on loopback alone: development
	// with the browser on the same machine.
	LoopbackOnly bool `toml:"loopback_only"`
	// Record writes every call to RecordDir (relative paths are under
	// data_dir) and names the files' SHA-256 in the act's log.
	Record    bool   `toml:"record"`
	RecordDir string `toml:"record_dir"`
	// PLIInterval is the least time between keyframe requests to one
	// publisher.
	PLIInterval Duration `toml:"pli_interval"`

	// TCPPort, if not 0, is where the SFU takes ICE over TCP (passive
	// candidates on this one port) for participants whose network blocks
	// UDP.
	TCPPort uint16 `toml:"tcp_port"`

	// BWEInitial is a participant's downlink estimate (bits/s) before any
	// feedback, BWEMax its cap: the SFU sends each participant the best
	// simulcast layer that fits its estimate.
	BWEInitial int `toml:"bwe_initial"`
	BWEMax     int `toml:"bwe_max"`
	// VideoPauseBelow and VideoResumeAbove (bits/s): under the first, a
	// participant gets audio alone (and both are told), until the estimate
	// is back over the second.
	VideoPauseBelow  int `toml:"video_pause_below"`
	VideoResumeAbove int `toml:"video_resume_above"`
	// UDPSegmentation sends a video frame's packets to one participant in
	// one system call (Linux UDP segmentation offload), on the SFU's
	// per-connection sockets; off, one per packet.
	UDPSegmentation bool `toml:"udp_segmentation"`
}

// TURN configures the embedded TURN server.
type TURN struct {
	Enabled bool `toml:"enabled"`
	// Addr is the UDP and TCP listen address.
	Addr string `toml:"addr"`
	// RelayIP is the address relays are announced at: the server's public IP.
	RelayIP string `toml:"relay_ip"`
	Realm   string `toml:"realm"`
	// AllowLoopback and AllowPrivate permit relaying to such peers
	// (development on one machine); off in production.
	AllowLoopback bool `toml:"allow_loopback"`
	AllowPrivate  bool `toml:"allow_private"`
	// CredentialTTL is how long handed-out TURN credentials stay valid.
	CredentialTTL Duration `toml:"credential_ttl"`
	// UDPSockets share the UDP port (SO_REUSEPORT; 0: one per relay
	// engine on Linux, which is one, else one per CPU), each with a
	// ReadBuffer-byte receive buffer (0: the OS default).
	UDPSockets int `toml:"udp_sockets"`
	ReadBuffer int `toml:"read_buffer"`
	// RelayEngine is what reads and relays the UDP sockets: "epoll",
	// Senim's relay engine (Linux: batched reads and sends, ChannelData
	// relayed in place; elsewhere pion's), or "pion" (pion/turn alone).
	// RelayEngines is how many goroutines the engine runs, each with its
	// share of the sockets (one serves tens of thousands of datagrams a
	// second on one CPU).
	RelayEngine  string `toml:"relay_engine"`
	RelayEngines int    `toml:"relay_engines"`
	// MaxAllocationsPerUser bounds the relays one call participant holds
	// at once; MaxBitratePerUser (bits/s) bounds what is relayed for them,
	// both ways together: over it UDP is dropped (counted in
	// senim_turn_dropped_bytes_total) and TCP slowed. With AllowLoopback
	// off, the server's own addresses are refused as peers too.
	MaxAllocationsPerUser int   `toml:"max_allocations_per_user"`
	MaxBitratePerUser     int64 `toml:"max_bitrate_per_user"`

	// TLSAddr, if set, is where TURN is served over TLS as well (turns:,
	// port 443 in production: it passes firewalls that let only HTTPS
	// out). TLSCert and TLSKey are its PEM files; empty, http.tls_cert and
	// http.tls_key, or else a self-signed certificate made under data_dir
	// (development: browsers do not trust it and skip that server).
	// TLSHost is the host the turns: URL names, which the certificate
	// must cover; empty, document.public_url's host when a certificate is
	// configured, else relay_ip.
	TLSAddr string `toml:"tls_addr"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	TLSHost string `toml:"tls_host"`
}

// Document configures the notarial document. An act records both values
// when its document code is issued and renders with those ever after:
// changing them changes only documents coded from then on.
type Document struct {
	// Place is where the notary's office is, as documents state it.
	Place string `toml:"place"`
	// PublicURL is where the public check is reached from outside; the QR
	// code holds PublicURL + "/verify/" + the code.
	PublicURL string `toml:"public_url"`
}

// Fees is the rate table of a power of attorney, in MRP (monthly
// calculation index) units, and the Civil Code's terms.
type Fees struct {
	// MRPTenge is the MRP of the year in tenge (2026: 4325).
	MRPTenge float64 `toml:"mrp_tenge"`
	// StateDutyMRP is the default state duty (госпошлина).
	StateDutyMRP float64 `toml:"state_duty_mrp"`
	// ServicesMRP is the default fee for legal and technical services (УПТХ).
	ServicesMRP float64 `toml:"services_mrp"`
	// MaxTermMonths is the longest term (Civil Code: 3 years).
	MaxTermMonths int `toml:"max_term_months"`
	// DefaultTermMonths applies when none is stated (Civil Code: 1 year).
	DefaultTermMonths int `toml:"default_term_months"`
}

// Limits bound what clients may ask of the server.
type Limits struct {
	MaxConns      int     `toml:"max_conns"`
	MaxFrameBytes int64   `toml:"max_frame_bytes"`
	OutboundQueue int     `toml:"outbound_queue"`
	MaxInFlight   int     `toml:"max_in_flight"`
	RatePerSecond float64 `toml:"rate_per_second"`
	Burst         int     `toml:"burst"`
	// ChecksPerMinute limits the public check by code, per client IP.
	ChecksPerMinute int `toml:"checks_per_minute"`

	// Bounded connections (PROTOCOL.md, Limits).

	// MaxConnsPerIP is the websocket connections one client IP holds at
	// once; more get HTTP 429.
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
	// SigninTimeout is how long a connection may stay without a welcome
	// before it is closed with 1008 signin_timeout.
	SigninTimeout Duration `toml:"signin_timeout"`
	// PingInterval is the websocket keepalive: a peer that does not answer
	// a ping within the interval is closed.
	PingInterval Duration `toml:"ping_interval"`
	// SessionMaxAge is the longest a connection lives; then it is closed
	// with 1008 reauthenticate and the app signs in again.
	SessionMaxAge Duration `toml:"session_max_age"`
}

// Act bounds the life of an act and of its invoice.
type Act struct {
	// IdleAfter is how long an act actor stays in memory without a message;
	// then it is stopped and rebuilt from the log by the next one (0: never).
	IdleAfter Duration `toml:"idle_after"`
	// InvoiceTTL is how long an invoice can be paid; a later payment is
	// refused with invoice_expired and refunded.
	InvoiceTTL Duration `toml:"invoice_ttl"`
	// ExpireAfter is how long an unfinished act may go without an event
	// before the server expires it (expired, final).
	ExpireAfter Duration `toml:"expire_after"`
	// SweepInterval is how often the server looks for such acts.
	SweepInterval Duration `toml:"sweep_interval"`
	// SnapshotEvery is how many events an act goes between snapshots of
	// its state, kept beside its stream in the event log, so that loading
	// it decodes only the events after the last one (0: no snapshots,
	// every load replays the act from its first event).
	SnapshotEvery int `toml:"snapshot_every"`
}

// Desk bounds the wait for a notary.
type Desk struct {
	// MaxWait is how long a call waits for a notary before it goes back
	// to the client with no_notary_available.
	MaxWait Duration `toml:"max_wait"`
	// OperatorGrace is how long a notary whose last session closed (a
	// reload, a dropped network) keeps their operator mode and place at
	// the desk: back within it, they are available for calls again without
	// asking. Meanwhile they are offered nothing. 0 forgets them at once.
	OperatorGrace Duration `toml:"operator_grace"`
}

// Call bounds one video call.
type Call struct {
	// MaxLength is the longest a call lasts; then the server ends it.
	MaxLength Duration `toml:"max_length"`
	// MaxRecordingBytes caps what one call's recording writes, every file
	// of it (the track files and the call's WebM) together; past it
	// recording stops (recording_stopped, size_cap) and the call goes on.
	MaxRecordingBytes int64 `toml:"max_recording_bytes"`
}

// Log configures zerolog.
type Log struct {
	// Level is one of trace, debug, info, warn, error.
	Level string `toml:"level"`
	// Format is console, json, or auto (console on a terminal, JSON otherwise).
	Format string `toml:"format"`
}

// HTTP configures the listener for the browser apps, the websocket gateway,
// health, metrics, the public check and the bank callback.
type HTTP struct {
	Addr string `toml:"addr"`
	// AllowedOrigins are browser origins allowed on the websocket besides
	// the server's own (host patterns such as "app.senim.kz").
	AllowedOrigins []string `toml:"allowed_origins"`

	// Production settings (see DevSettings).

	// TLSCert and TLSKey are PEM files; when both are set the server speaks
	// HTTPS (and wss) and re-reads them when they change on disk.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// TrustedProxies are the CIDRs of reverse proxies whose X-Forwarded-For
	// is believed; from anyone else the header is ignored.
	TrustedProxies []string `toml:"trusted_proxies"`
	// AllowedHosts are Host header values served besides the loopback names
	// (any port) and document.public_url's host: "senim.kz" (any port) or
	// "10.0.0.5:8080" (that port only). Others get 421, against DNS rebinding.
	AllowedHosts []string `toml:"allowed_hosts"`
}

// PKI configures the trust store that every EDS signature is judged against.
type PKI struct {
	// DevCA creates a development CA under DataDir/devca on first start and
	// trusts it. Turn it off in production.
	DevCA bool `toml:"dev_ca"`
	// Roots are PEM or DER files of trusted root certificates, e.g. NUC RK's.
	Roots []string `toml:"roots"`
	// Intermediates are files of intermediate CA certificates.
	Intermediates []string `toml:"intermediates"`
	// CRLs are CRL files (DER or PEM), re-read when they change.
	CRLs []string `toml:"crls"`
	// MaxClockSkew bounds the signing time of a live signature (sign-in,
	// approval) against the server's clock.
	MaxClockSkew Duration `toml:"max_clock_skew"`

	// RequireCRL makes every issuing CA of a chain need a current CRL, or a
	// signature is refused with revocation_unknown (fail closed). The dev CA
	// always publishes its CRLs, so development works with it on.
	RequireCRL bool `toml:"require_crl"`
	// ReloadInterval is how often the CRL files and the accounts file are
	// checked for changes; on a change, sessions signed in with a revoked
	// certificate or as a removed notary are closed.
	ReloadInterval Duration `toml:"reload_interval"`
}

// Duration is a time.Duration written as "5m" or "90s".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go prints it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Default returns every default. config.toml at the repository root must say
// the same (TestRootConfigIsDefault).
func Default() Config {
	return Config{
		DataDir: "./data",
		Log:     Log{Level: "info", Format: "auto"},
		HTTP:    HTTP{Addr: "127.0.0.1:8080", AllowedOrigins: []string{}, TrustedProxies: []string{}, AllowedHosts: []string{}},
		PKI: PKI{
			DevCA:         true,
			Roots:         []string{},
			Intermediates: []string{},
			CRLs:          []string{},
			MaxClockSkew:  Duration(5 * time.Minute),
			// Fail closed on revocation; see PKI.RequireCRL.
			RequireCRL:     true,
			ReloadInterval: Duration(30 * time.Second),
		},
		Fees:     Fees{MRPTenge: 4325, StateDutyMRP: 0.5, ServicesMRP: 3, MaxTermMonths: 36, DefaultTermMonths: 12},
		Limits:   Limits{MaxConns: 10000, MaxFrameBytes: 256 << 10, OutboundQueue: 256, MaxInFlight: 8, RatePerSecond: 50, Burst: 100, ChecksPerMinute: 30, MaxConnsPerIP: 50, SigninTimeout: Duration(10 * time.Second), PingInterval: Duration(30 * time.Second), SessionMaxAge: Duration(12 * time.Hour)},
		Document: Document{Place: "г. Алматы / Алматы қ.", PublicURL: "http://127.0.0.1:8080"},
		TURN: TURN{Enabled: true, Addr: "127.0.0.1:3478", RelayIP: "127.0.0.1", Realm: "senim", AllowLoopback: true,
			CredentialTTL: Duration(time.Hour), ReadBuffer: 4 << 20, RelayEngine: "epoll", RelayEngines: 1,
			MaxAllocationsPerUser: 4, MaxBitratePerUser: 10_000_000},
		Media: Media{Enabled: true, PublicIPs: []string{}, LoopbackOnly: true, Record: true, RecordDir: "recordings",
			PLIInterval: Duration(500 * time.Millisecond), BWEInitial: 1_000_000, BWEMax: 20_000_000,
			VideoPauseBelow: 100_000, VideoResumeAbove: 200_000, UDPSegmentation: true},
		Bank:       Bank{Mode: "dev", Timeout: Duration(5 * time.Second), Retries: 3, Backoff: Duration(200 * time.Millisecond)},
		EventLog:   EventLog{HeadCache: 65536, BlockCacheMB: 64},
		Checkpoint: Checkpoint{Interval: Duration(10 * time.Minute)},
		Act:        Act{IdleAfter: Duration(2 * time.Minute), InvoiceTTL: Duration(24 * time.Hour), ExpireAfter: Duration(30 * 24 * time.Hour), SweepInterval: Duration(10 * time.Minute), SnapshotEvery: 32},
		Desk:       Desk{MaxWait: Duration(15 * time.Minute), OperatorGrace: Duration(5 * time.Minute)},
		Call:       Call{MaxLength: Duration(2 * time.Hour), MaxRecordingBytes: 2 << 30},
		Ops:        Ops{SessionTTL: Duration(8 * time.Hour), MaxSessions: 64, MaxLoginFailures: 10},
		Session:    Session{ResumeTTL: Duration(10 * time.Minute), ResumeMax: 20000, QueueEstimate: Duration(5 * time.Minute)},
		Admission: Admission{MaxInFlight: 4096, RetryAfter: Duration(time.Second), MaxDelay: Duration(200 * time.Millisecond),
			PasswordQueue: 64, LoginFailures: 5, Lockout: Duration(time.Minute)},
		Egov:     Egov{LinkTTL: Duration(5 * time.Minute), MaxLinks: 10000, OrganisationBIN: "000000000000"},
		Digidocs: Digidocs{Mode: "dev", Timeout: Duration(10 * time.Second)},
		Runtime:  Runtime{GOGC: 100, MemoryLimit: "80%", Procs: "adaptive"},
		Issuance: Issuance{Enabled: true, OTPTTL: Duration(120 * time.Second), OTPMaxTries: 3, OTPPerWindow: 5, OTPWindow: Duration(time.Hour),
			MaxImageBytes: 10 << 20, MaxVideoBytes: 50 << 20, MaxUploadsPerPurpose: 5, MinKeyBits: 2048,
			ExpireAfter: Duration(720 * time.Hour), SweepInterval: Duration(10 * time.Minute), UnverifiedExpireAfter: Duration(time.Hour),
			MaxOpenPerIIN: 3, StartsPerIP: 20, IdleAfter: Duration(2 * time.Minute),
			RetryMin: Duration(time.Second), RetryMax: Duration(time.Minute), CAPoll: Duration(2 * time.Second),
			BMG: devPort(), SMS: devPort(), FaceID: devPort(), DocRecog: devPort(), CA: devPort(), LegalReg: devPort(),
			Mail: Mail{Mode: "dev", From: "noreply@senim.localhost", Timeout: Duration(30 * time.Second)}},
	}
}

func devPort() Port { return Port{Mode: "dev", Timeout: Duration(10 * time.Second)} }

// EnvPrefix starts every environment override; SENIM_CONFIG names the file.
const EnvPrefix = "SENIM_"

// Load starts from Default, decodes the TOML file at path if path is not
// empty, then applies SENIM_* variables from environ (os.Environ() form), and
// validates the result.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	if path != "" {
		md, err := toml.DecodeFile(path, &c)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return Config{}, fmt.Errorf("config: %s: unknown keys: %s", path, strings.Join(keys, ", "))
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks values that decoding alone cannot.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir must not be empty"))
	}
	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: want trace, debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "auto", "console", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want auto, console or json", c.Log.Format))
	}
	if c.HTTP.Addr == "" {
		errs = append(errs, errors.New("http.addr must not be empty"))
	}
	errs = append(errs, c.HTTP.validateProduction()...)
	if !c.PKI.DevCA && len(c.PKI.Roots) == 0 {
		errs = append(errs, errors.New("pki: with dev_ca = false, list at least one root in pki.roots"))
	}
	if c.Fees.MRPTenge <= 0 || c.Fees.StateDutyMRP < 0 || c.Fees.ServicesMRP < 0 {
		errs = append(errs, errors.New("fees: mrp_tenge must be positive and the rates not negative"))
	}
	if c.Fees.MaxTermMonths <= 0 || c.Fees.DefaultTermMonths <= 0 || c.Fees.DefaultTermMonths > c.Fees.MaxTermMonths {
		errs = append(errs, errors.New("fees: terms must be positive, the default no longer than the maximum"))
	}
	if c.Session.ResumeTTL <= 0 || c.Session.ResumeTTL > Duration(24*time.Hour) || c.Session.ResumeMax <= 0 || c.Session.QueueEstimate <= 0 {
		errs = append(errs, errors.New("session: resume_ttl must be positive and at most 24h, resume_max and queue_estimate positive"))
	}
	if c.Egov.LinkTTL < Duration(time.Second) || c.Egov.LinkTTL > Duration(time.Hour) || c.Egov.MaxLinks <= 0 || !validBIN(c.Egov.OrganisationBIN) {
		errs = append(errs, errors.New("egov: link_ttl must be 1s to 1h, max_links positive, organisation_bin 12 digits"))
	}
	switch d := c.Digidocs; {
	case d.Mode != "dev" && d.Mode != "http":
		errs = append(errs, fmt.Errorf("digidocs.mode %q: want dev or http", d.Mode))
	case d.Mode == "http" && (!strings.HasPrefix(d.URL, "http") || d.APIKeyFile == ""):
		errs = append(errs, errors.New("digidocs: http mode needs url and api_key_file"))
	case d.Timeout <= 0:
		errs = append(errs, errors.New("digidocs.timeout must be positive"))
	}
	if c.Limits.MaxConns <= 0 || c.Limits.MaxFrameBytes < 1024 || c.Limits.OutboundQueue <= 0 || c.Limits.MaxInFlight <= 0 || c.Limits.RatePerSecond <= 0 || c.Limits.Burst <= 0 || c.Limits.ChecksPerMinute <= 0 {
		errs = append(errs, errors.New("limits: every limit must be positive (max_frame_bytes at least 1024)"))
	}
	if c.Document.Place == "" || !strings.HasPrefix(c.Document.PublicURL, "http") {
		errs = append(errs, errors.New("document: place must be set and public_url be an http(s) URL"))
	}
	if c.TURN.Enabled && (c.TURN.Addr == "" || c.TURN.Realm == "" || c.TURN.CredentialTTL <= 0) {
		errs = append(errs, errors.New("turn: addr, realm and a positive credential_ttl are required"))
	}
	if c.TURN.UDPSockets < 0 || c.TURN.UDPSockets > 256 || c.TURN.ReadBuffer < 0 {
		errs = append(errs, errors.New("turn: udp_sockets is 0 (one per CPU) to 256, read_buffer ≥ 0"))
	}
	if e := c.TURN.RelayEngine; e != "epoll" && e != "pion" {
		errs = append(errs, fmt.Errorf("turn: relay_engine is \"epoll\" or \"pion\", not %q", e))
	}
	if c.TURN.RelayEngines < 1 || c.TURN.RelayEngines > 64 {
		errs = append(errs, errors.New("turn: relay_engines is 1 to 64"))
	}
	if t := c.TURN; t.Enabled && t.TLSAddr != "" {
		if _, port, err := net.SplitHostPort(t.TLSAddr); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("turn: tls_addr %q is not host:port", t.TLSAddr))
		}
		if (t.TLSCert == "") != (t.TLSKey == "") {
			errs = append(errs, errors.New("turn: tls_cert and tls_key are set together or not at all"))
		}
	}
	if t := c.TURN; t.Enabled && (t.MaxAllocationsPerUser < 1 || t.MaxAllocationsPerUser > 64 || t.MaxBitratePerUser < 64_000 || t.CredentialTTL > Duration(24*time.Hour)) {
		errs = append(errs, errors.New("turn: max_allocations_per_user is 1 to 64, max_bitrate_per_user at least 64000 (bits/s), credential_ttl at most 24h"))
	}
	if m := c.Media; m.Enabled {
		if m.UDPPortMin > m.UDPPortMax || (m.UDPPortMin == 0) != (m.UDPPortMax == 0) {
			errs = append(errs, errors.New("media: udp_port_min and udp_port_max are both 0 or a range, min ≤ max"))
		}
		if m.Record && m.RecordDir == "" {
			errs = append(errs, errors.New("media: record needs record_dir"))
		}
		if m.PLIInterval <= 0 {
			errs = append(errs, errors.New("media: pli_interval must be positive"))
		}
		if m.VideoPauseBelow < 30_000 || m.VideoResumeAbove <= m.VideoPauseBelow || m.BWEMax < 300_000 ||
			m.BWEInitial < m.VideoResumeAbove || m.BWEInitial > m.BWEMax {
			errs = append(errs, errors.New("media: video_pause_below at least 30000 (bits/s), video_resume_above over it, bwe_max at least 300000, bwe_initial from video_resume_above to bwe_max"))
		}
		for _, ip := range m.PublicIPs {
			if net.ParseIP(ip) == nil {
				errs = append(errs, fmt.Errorf("media: public_ips: %q is not an IP address", ip))
			}
		}
	}
	switch c.Bank.Mode {
	case "dev":
	case "http":
		if err := checkBankURL(c.Bank.URL); err != nil {
			errs = append(errs, err)
		}
		if c.Bank.APIKeyFile == "" || c.Bank.SecretFile == "" {
			errs = append(errs, errors.New("bank: mode http needs api_key_file and secret_file"))
		}
	default:
		errs = append(errs, fmt.Errorf("bank.mode %q: want dev or http", c.Bank.Mode))
	}
	if c.Bank.Timeout <= 0 || c.Bank.Backoff <= 0 || c.Bank.Retries < 0 || c.Bank.Retries > 10 {
		errs = append(errs, errors.New("bank: timeout and backoff must be positive, retries 0 to 10"))
	}
	if c.PKI.MaxClockSkew <= 0 {
		errs = append(errs, errors.New("pki.max_clock_skew must be positive"))
	}
	if c.PKI.RequireCRL && !c.PKI.DevCA && len(c.PKI.CRLs) == 0 {
		errs = append(errs, errors.New("pki: require_crl = true needs the CA's CRLs in pki.crls (or every signature is refused with revocation_unknown)"))
	}
	if c.PKI.ReloadInterval <= 0 {
		errs = append(errs, errors.New("pki.reload_interval must be positive"))
	}
	if c.Ops.SessionTTL < Duration(time.Minute) || c.Ops.SessionTTL > Duration(7*24*time.Hour) {
		errs = append(errs, fmt.Errorf("ops.session_ttl %s: want 1m to 168h", c.Ops.SessionTTL.Std()))
	}
	if c.Ops.MaxSessions < 1 || c.Ops.MaxSessions > 10000 {
		errs = append(errs, fmt.Errorf("ops.max_sessions %d: want 1 to 10000", c.Ops.MaxSessions))
	}
	if c.Ops.MaxLoginFailures < 1 {
		errs = append(errs, fmt.Errorf("ops.max_login_failures %d: want at least 1", c.Ops.MaxLoginFailures))
	}
	if c.Act.IdleAfter < 0 {
		errs = append(errs, errors.New("act.idle_after must not be negative (0 keeps acts in memory)"))
	}
	if n := c.EventLog.HeadCache; n < 4096 || n > 1<<26 {
		errs = append(errs, errors.New("eventlog: head_cache is 4096 to 67108864 streams"))
	}
	if n := c.EventLog.BlockCacheMB; n < 8 || n > 1<<20 {
		errs = append(errs, errors.New("eventlog: block_cache_mb is 8 to 1048576 MiB"))
	}
	if n := c.Act.SnapshotEvery; n < 0 || n > 1_000_000 {
		errs = append(errs, fmt.Errorf("act.snapshot_every %d: want 0 (none) to 1000000", n))
	}
	if a := c.Admission; a.MaxInFlight <= 0 || a.RetryAfter <= 0 || a.PasswordChecks < 0 || a.PasswordQueue < 0 || a.LoginFailures <= 0 || a.Lockout <= 0 {
		errs = append(errs, errors.New("admission: max_in_flight, retry_after, login_failures and lockout must be positive; password_checks and password_queue not negative"))
	}
	if d := c.Admission.MaxDelay; d < 0 || (d > 0 && d < Duration(10*time.Millisecond)) {
		errs = append(errs, errors.New("admission.max_delay must be 0 (off) or at least 10ms"))
	}
	if c.Checkpoint.Interval < Duration(time.Second) {
		errs = append(errs, errors.New("checkpoint.interval must be at least 1s"))
	}
	if (c.Checkpoint.P12 == "") != (c.Checkpoint.PasswordFile == "") {
		errs = append(errs, errors.New("checkpoint: p12 and password_file go together"))
	}
	if l := c.Limits; l.MaxConnsPerIP <= 0 || l.SigninTimeout <= 0 || l.PingInterval < Duration(time.Second) || l.SessionMaxAge < Duration(time.Minute) {
		errs = append(errs, errors.New("limits: max_conns_per_ip and signin_timeout must be positive, ping_interval at least 1s, session_max_age at least 1m"))
	}
	if a := c.Act; a.InvoiceTTL <= 0 || a.ExpireAfter < Duration(time.Hour) || a.SweepInterval < Duration(time.Second) {
		errs = append(errs, errors.New("act: invoice_ttl must be positive, expire_after at least 1h, sweep_interval at least 1s"))
	}
	if c.Desk.MaxWait <= 0 || c.Call.MaxLength <= 0 || c.Call.MaxRecordingBytes < 1<<20 {
		errs = append(errs, errors.New("desk.max_wait and call.max_length must be positive, call.max_recording_bytes at least 1 MiB"))
	}
	if g := c.Desk.OperatorGrace; g < 0 || g > Duration(time.Hour) {
		errs = append(errs, errors.New("desk.operator_grace must be 0 to 1h"))
	}
	if g := c.Runtime.GOGC; g != -1 && (g < 10 || g > 10000) {
		errs = append(errs, fmt.Errorf("runtime.gogc %d: want 10 to 10000, or -1 (off: only the memory limit triggers a collection)", g))
	}
	if p, n, err := ParseMemoryLimit(c.Runtime.MemoryLimit); err != nil {
		errs = append(errs, err)
	} else if c.Runtime.GOGC == -1 && p == 0 && n == 0 {
		errs = append(errs, errors.New("runtime: gogc = -1 needs a memory_limit (else the heap grows without end)"))
	}
	if _, _, err := ParseProcs(c.Runtime.Procs); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateIssuance()...)
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

func (c Config) validateIssuance() []error {
	i := c.Issuance
	if !i.Enabled {
		return nil
	}
	var errs []error
	if i.OTPTTL < Duration(30*time.Second) || i.OTPTTL > Duration(15*time.Minute) {
		errs = append(errs, fmt.Errorf("issuance.otp_ttl %s: want 30s to 15m", i.OTPTTL.Std()))
	}
	if i.OTPMaxTries < 1 || i.OTPMaxTries > 10 || i.OTPPerWindow < 1 || i.OTPPerWindow > 50 || i.OTPWindow < Duration(time.Minute) {
		errs = append(errs, errors.New("issuance: otp_max_tries 1 to 10, otp_per_window 1 to 50, otp_window at least 1m"))
	}
	if i.MaxImageBytes < 64<<10 || i.MaxVideoBytes < 64<<10 || i.MaxImageBytes > 64<<20 || i.MaxVideoBytes > 64<<20 {
		errs = append(errs, errors.New("issuance: max_image_bytes and max_video_bytes 64 KiB to 64 MiB (the face service's limit)"))
	}
	if i.MaxUploadsPerPurpose < 1 || i.MinKeyBits < 2048 {
		errs = append(errs, errors.New("issuance: max_uploads_per_purpose at least 1, min_key_bits at least 2048"))
	}
	if i.ExpireAfter < Duration(time.Hour) || i.SweepInterval < Duration(time.Second) || i.IdleAfter < 0 {
		errs = append(errs, errors.New("issuance: expire_after at least 1h, sweep_interval at least 1s, idle_after not negative"))
	}
	if i.UnverifiedExpireAfter < Duration(10*time.Minute) || i.UnverifiedExpireAfter > i.ExpireAfter {
		errs = append(errs, errors.New("issuance: unverified_expire_after at least 10m and at most expire_after"))
	}
	if i.MaxOpenPerIIN < 1 || i.StartsPerIP < 1 {
		errs = append(errs, errors.New("issuance: max_open_per_iin and starts_per_ip at least 1"))
	}
	if i.RetryMin <= 0 || i.RetryMax < i.RetryMin || i.CAPoll <= 0 {
		errs = append(errs, errors.New("issuance: retry_min and ca_poll positive, retry_max at least retry_min"))
	}
	errs = append(errs, i.Mail.validate()...)
	for _, p := range i.Ports() {
		switch p.Port.Mode {
		case "dev": // a development stand-in: named by DevSettings
		case "http":
			if err := checkBankURL(p.Port.URL); err != nil {
				errs = append(errs, fmt.Errorf("issuance.%s: %w", p.Name, err))
			}
			if p.Port.TokenFile == "" {
				errs = append(errs, fmt.Errorf("issuance.%s: mode http needs token_file", p.Name))
			}
		default:
			errs = append(errs, fmt.Errorf("issuance.%s.mode %q: want dev or http", p.Name, p.Port.Mode))
		}
		if p.Port.Timeout <= 0 {
			errs = append(errs, fmt.Errorf("issuance.%s.timeout must be positive", p.Name))
		}
	}
	return errs
}

// checkBankURL accepts an https URL, or http to a loopback host (a provider
// stand-in on the same machine): the API key and invoices must not cross a
// network in clear.
func checkBankURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bank.url %q: want the provider's https URL", raw)
	}
	ip := net.ParseIP(u.Hostname())
	loopback := u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return fmt.Errorf("bank.url %q: want https (http only to a loopback host)", raw)
	}
	return nil
}

// EnvNames lists every SENIM_* variable that Load understands.
func EnvNames() []string {
	var names []string
	walk(reflect.ValueOf(&Config{}).Elem(), EnvPrefix, func(name string, _ reflect.Value) { names = append(names, name) })
	sort.Strings(names)
	return names
}

func walk(v reflect.Value, prefix string, fn func(string, reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + strings.ToUpper(tag)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			walk(fv, name+"_", fn)
			continue
		}
		fn(name, fv)
	}
}

func applyEnv(c *Config, environ []string) error {
	known := map[string]reflect.Value{}
	walk(reflect.ValueOf(c).Elem(), EnvPrefix, func(name string, v reflect.Value) { known[name] = v })
	var errs []error
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvPrefix+"CONFIG" {
			continue
		}
		field, ok := known[name]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown environment variable %s", name))
			continue
		}
		if err := setFromString(field, val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if g := c.Desk.OperatorGrace; g < 0 || g > Duration(time.Hour) {
		errs = append(errs, errors.New("desk.operator_grace must be 0 to 1h"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

func setFromString(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Uint16:
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return err
		}
		v.SetUint(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", v.Type())
		}
		parts := []string{}
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// FileFromEnv returns the config file to read: SENIM_CONFIG if set, else
// config.toml in the working directory if it exists, else "" (defaults only).
func FileFromEnv(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := os.Getenv(EnvPrefix + "CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat("config.toml"); err == nil {
		return "config.toml"
	}
	return ""
}

// validBIN reports whether s is 12 decimal digits, the form of a BIN.
func validBIN(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (m Mail) validate() []error {
	var errs []error
	switch m.Mode {
	case "off":
		return nil
	case "dev": // a development stand-in: named by DevSettings
	case "smtp":
		if host, port, err := net.SplitHostPort(m.SMTPAddr); err != nil || host == "" || port == "" {
			errs = append(errs, fmt.Errorf("issuance.mail.smtp_addr %q: want host:port", m.SMTPAddr))
		}
		if m.Username != "" && m.PasswordFile == "" {
			errs = append(errs, errors.New("issuance.mail: username needs password_file"))
		}
	default:
		errs = append(errs, fmt.Errorf("issuance.mail.mode %q: want dev, smtp or off", m.Mode))
	}
	if a, err := mail.ParseAddress(m.From); err != nil || a.Name != "" || a.Address != m.From {
		errs = append(errs, fmt.Errorf("issuance.mail.from %q: want a plain e-mail address", m.From))
	}
	if m.Timeout <= 0 || m.Timeout > Duration(5*time.Minute) {
		errs = append(errs, errors.New("issuance.mail.timeout: more than 0, at most 5m"))
	}
	return errs
}
