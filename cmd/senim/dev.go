package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/egovmobile/standin"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/pki/ncalayer"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/server"
)

func cmdDevIssue(args []string) error {
	fs := flag.NewFlagSet("senim dev issue", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	id := fs.String("iin", "", "holder's IIN (12 digits, required)")
	name := fs.String("name", "", `holder's name: "SURNAME NAME [PATRONYMIC]" (required)`)
	email := fs.String("email", "", "e-mail address for the subject")
	bin := fs.String("bin", "", "BIN of the legal entity (makes a legal entity's certificate)")
	org := fs.String("org", "", "name of the legal entity (with --bin)")
	role := fs.String("role", "", "employee role with --bin: "+strings.Join(legalRoles(), ", "))
	digitalID := fs.Bool("digital-id", false, "mark the holder as identified remotely through Digital ID")
	days := fs.Int("days", 365, "validity in days")
	password := fs.String("password", "", "key-store password: 6-32 chars of a-z and 0-9 (both required), A-Z, @#%&*~_-. (required)")
	out := fs.String("out", ".", "directory for the .p12 files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" || *name == "" || *password == "" {
		fs.Usage()
		return &exitError{code: 2, msg: "--iin, --name and --password are required"}
	}
	if err := pki.ValidateKeyStorePassword(*password); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	holder, err := iin.ParseIIN(*id)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	surname, given, patronymic, err := devca.ParseFullName(*name)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	req := devca.Request{IIN: holder, Surname: surname, Name: given, Patronymic: patronymic, Email: *email,
		Organization: *org, DigitalID: *digitalID, Validity: time.Duration(*days) * 24 * time.Hour}
	if *bin != "" {
		if req.BIN, err = iin.ParseBIN(*bin); err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
	}
	if *role != "" {
		if req.Role, err = pki.ParseRole(*role); err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ca, err := openDevCA(cfg)
	if err != nil {
		return err
	}
	pair, err := ca.IssuePair(req, time.Now())
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	// The development world's people are in the registry stand-in too.
	if err := registry.Add(server.RegistryPath(cfg.DataDir), registry.Person{IIN: holder.String(), Surname: surname, Name: given,
		Patronymic: patronymic, Document: registry.Document{Kind: "id_card", Number: holder.String()[6:] + "000",
			IssuedBy: "МВД РК (development)", IssuedAt: time.Now().AddDate(-1, 0, 0).Format(time.DateOnly),
			ValidUntil: time.Now().AddDate(9, 0, 0).Format(time.DateOnly)}}); err != nil {
		return err
	}
	authName, signName := pair.FileNames()
	holderSubject, err := pki.SubjectOf(pair.Sign.Certificate)
	if err != nil {
		return err
	}
	fmt.Printf("issued by %s for %s\n", ca.Intermediate().Subject.CommonName, holderSubject)
	for _, f := range []struct {
		kind, file string
		key        *pki.Key
	}{{"auth", authName, pair.Auth}, {"sign", signName, pair.Sign}} {
		der, err := pki.EncodePKCS12(f.key, *password)
		if err != nil {
			return err
		}
		p := filepath.Join(*out, f.file)
		if err := os.WriteFile(p, der, 0o600); err != nil {
			return err
		}
		fmt.Printf("  %-4s  %s  serial %s  roles %v  valid until %s\n", f.kind, p,
			pki.SerialHex(f.key.Certificate.SerialNumber), pki.RolesOf(f.key.Certificate), f.key.Certificate.NotAfter.UTC().Format(time.DateOnly))
	}
	return nil
}

func legalRoles() []string {
	var out []string
	for _, r := range pki.RoleNames() {
		if pki.Role(r).IsLegalEntityRole() && pki.Role(r) != pki.RoleLegalEntity {
			out = append(out, r)
		}
	}
	return out
}

func cmdDevRevoke(args []string) error {
	fs := flag.NewFlagSet("senim dev revoke", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	serial := fs.String("serial", "", "serial number (hex) of the certificate to revoke")
	id := fs.String("iin", "", "revoke every certificate of this IIN")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*serial == "") == (*id == "") {
		fs.Usage()
		return &exitError{code: 2, msg: "give exactly one of --serial or --iin"}
	}
	sel := devca.Selector{Serial: strings.ToLower(strings.TrimPrefix(*serial, "0x"))}
	if *id != "" {
		holder, err := iin.ParseIIN(*id)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		sel.IIN = holder
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ca, err := openDevCA(cfg)
	if err != nil {
		return err
	}
	done, err := ca.Revoke(sel, time.Now())
	if errors.Is(err, devca.ErrNotFound) {
		return &exitError{code: 1, msg: err.Error()}
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Printf("%s: already revoked\n", sel)
	}
	for _, e := range done {
		fmt.Printf("revoked %s (%s, %s, %s)\n", e.Serial, e.Usage, e.IIN, e.CommonName)
	}
	fmt.Printf("CRL published: %s\n", strings.Join(ca.CRLPaths(), ", "))
	return nil
}

func cmdDevList(args []string) error {
	fs := flag.NewFlagSet("senim dev list", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ca, err := openDevCA(cfg)
	if err != nil {
		return err
	}
	entries, err := ca.Entries()
	if err != nil {
		return err
	}
	root, inter := ca.CertPaths()
	fmt.Printf("root CA:         %s  sha256 %s\nintermediate CA: %s\nCRLs:            %s\n\n", root, pki.Fingerprint(ca.Root()), inter, strings.Join(ca.CRLPaths(), ", "))
	fmt.Printf("%-34s %-4s %-12s %-12s %-10s %s\n", "SERIAL", "USE", "IIN", "BIN", "STATUS", "NAME")
	for _, e := range entries {
		status := "valid"
		if e.RevokedAt != nil {
			status = "revoked"
		} else if time.Now().After(e.NotAfter) {
			status = "expired"
		}
		bin := e.BIN
		if bin == "" {
			bin = "-"
		}
		fmt.Printf("%-34s %-4s %-12s %-12s %-10s %s\n", e.Serial, e.Usage, e.IIN, bin, status, e.CommonName)
	}
	return nil
}

func cmdDevNCALayer(args []string) error {
	fs := flag.NewFlagSet("senim dev ncalayer", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	var p12s stringList
	fs.Var(&p12s, "p12", "PKCS#12 key store to offer (repeat for several, e.g. the AUTH_RSA and the RSA key)")
	password := fs.String("password", "", "password of the key stores")
	addr := fs.String("addr", ncalayer.DefaultAddr, "listen address (NCALayer's is 127.0.0.1:13579)")
	plain := fs.Bool("plain", false, "serve plain ws:// instead of wss:// (tests and tools only; browsers on https pages need wss)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(p12s) == 0 {
		fs.Usage()
		return &exitError{code: 2, msg: "at least one --p12 is required"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, os.Stderr)
	var keys []*pki.Key
	for _, p := range p12s {
		k, err := pki.LoadPKCS12(p, *password)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		keys = append(keys, k)
		if _, err := pki.SubjectOf(k.Certificate); err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("%s: %v", p, err)}
		}
		// The certificate's fingerprint, not its subject: the subject holds
		// the IIN, and logs never do.
		log.Info().Str("file", p).Str("certificate", pki.Fingerprint(k.Certificate)).Str("kind", keyKind(k)).Stringer("roles", roleList(pki.RolesOf(k.Certificate))).Msg("key loaded")
	}
	var cert *tls.Certificate
	scheme := "ws"
	if !*plain {
		c, err := ncalayer.LoadOrCreateTLS(filepath.Join(cfg.DataDir, "ncalayer"), time.Now())
		if err != nil {
			return fmt.Errorf("ncalayer tls: %w", err)
		}
		cert, scheme = &c, "wss"
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	log.Info().Str("url", scheme+"://"+ln.Addr().String()).Msg("NCALayer stand-in listening; open https://" + ln.Addr().String() + " once in the browser to accept its certificate")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return ncalayer.Serve(ctx, ln, &ncalayer.Signer{Keys: keys, Log: log}, cert)
}

// keyKind tells a signing key from an authentication key by its key usage.
func keyKind(k *pki.Key) string {
	if k.Certificate.KeyUsage&x509.KeyUsageContentCommitment != 0 {
		return "sign"
	}
	return "auth"
}

type roleList []pki.Role

func (r roleList) String() string { return fmt.Sprint([]pki.Role(r)) }

// egovServe, when set (by the stand-in's page, egovpage.go), serves a page
// at addr where a link is pasted and signed with keys: `senim dev
// egov-mobile --serve ADDR`.
var egovServe func(ctx context.Context, addr string, keys []*pki.Key, pin string) error

// cmdDevEgovMobile plays the citizen's eGov mobile: it takes a signing
// link (the QR text, the deep link or the API URL), shows what is signed,
// asks for the PIN and signs with keys from .p12 files.
func cmdDevEgovMobile(args []string) error {
	fs := flag.NewFlagSet("senim dev egov-mobile", flag.ContinueOnError)
	var p12s stringList
	fs.Var(&p12s, "p12", "PKCS#12 key store of the phone's owner (repeat: the AUTH_RSA and the RSA key)")
	password := fs.String("password", "", "password of the key stores")
	pin := fs.String("pin", "", "the phone's PIN (asked on stdin when left out; the stand-in's is "+standin.DevPIN+")")
	serve := fs.String("serve", "", "serve the stand-in's page on this address instead of signing one link")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: senim dev egov-mobile --p12 AUTH.p12 --p12 SIGN.p12 --password P [--pin PIN] LINK")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(p12s) == 0 || (*serve == "" && fs.NArg() != 1) {
		fs.Usage()
		return &exitError{code: 2, msg: "--p12 and one LINK (or --serve ADDR) are required"}
	}
	var keys []*pki.Key
	for _, p := range p12s {
		k, err := pki.LoadPKCS12(p, *password)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		keys = append(keys, k)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *serve != "" {
		if egovServe == nil {
			return &exitError{code: 2, msg: "this build has no stand-in page"}
		}
		return egovServe(ctx, *serve, keys, *pin)
	}
	link := fs.Arg(0)
	d, docs, err := standin.Fetch(ctx, link)
	if err != nil {
		return egovExit(err)
	}
	standin.Show(os.Stdout, d, docs)
	code := *pin
	if code == "" {
		fmt.Print("PIN: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return &exitError{code: 1, msg: "no PIN given: nothing was signed"}
		}
		code = strings.TrimSpace(line)
	}
	if code != standin.DevPIN {
		return &exitError{code: 1, msg: standin.ErrWrongPIN.Error()}
	}
	signed, err := standin.SignDocuments(docs, keys)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if err := standin.Put(ctx, d.Document.URI, signed); err != nil {
		return egovExit(err)
	}
	fmt.Println("signed and sent")
	return nil
}

// egovExit turns the server's refusal into an exit with its code.
func egovExit(err error) error {
	if c := standin.CodeOf(err); c != "" {
		return &exitError{code: 1, msg: c + ": " + err.Error()}
	}
	return err
}
