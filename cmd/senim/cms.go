package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/senim-kz/senim/pki"
)

// verifyReport is what `senim cms verify --json` prints.
type verifyReport struct {
	OK           bool       `json:"ok"`
	Code         pki.Code   `json:"code,omitempty"`
	Message      string     `json:"message,omitempty"`
	IIN          string     `json:"iin,omitempty"`
	BIN          string     `json:"bin,omitempty"`
	Name         string     `json:"name,omitempty"`
	Organization string     `json:"organization,omitempty"`
	Roles        []pki.Role `json:"roles,omitempty"`
	Serial       string     `json:"serial,omitempty"`
	Fingerprint  string     `json:"fingerprint,omitempty"`
	Issuer       string     `json:"issuer,omitempty"`
	SigningTime  *time.Time `json:"signing_time,omitempty"`
	ContentBytes int        `json:"content_bytes,omitempty"`
}

func cmdCMSVerify(args []string) error {
	fs := flag.NewFlagSet("senim cms verify", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	content := fs.String("content", "", "the signed file, for a detached signature (or to check an attached one against it)")
	purpose := fs.String("purpose", "any", "key usage to require: sign (document), auth (sign-in) or any")
	role := fs.String("role", "", "role the signer must hold: "+strings.Join(pki.RoleNames(), ", "))
	live := fs.Bool("live", false, "judge at the current time, not at the signing time (as the server does for sign-in)")
	out := fs.String("out", "", "write the signed content to this file")
	asJSON := fs.Bool("json", false, "print a JSON report")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: senim cms verify [flags] FILE   (FILE: DER, PEM or base64 CMS; - for stdin)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{code: 2}
	}
	opts := pki.VerifyOptions{Live: *live}
	switch *purpose {
	case "any":
	case "sign":
		opts.Purpose = pki.PurposeSign
	case "auth":
		opts.Purpose = pki.PurposeAuth
	default:
		return &exitError{code: 2, msg: fmt.Sprintf("--purpose %q: want sign, auth or any", *purpose)}
	}
	if *role != "" {
		r, err := pki.ParseRole(*role)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		opts.Role = r
	}
	raw, err := readInput(fs.Arg(0))
	if err != nil {
		return err
	}
	if *content != "" {
		if opts.Content, err = os.ReadFile(*content); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	now := time.Now()
	opts.Now, opts.MaxSkew = now, cfg.PKI.MaxClockSkew.Std()
	ts, _, err := openTrust(cfg, now)
	if err != nil {
		return err
	}
	var v *pki.Verified
	der, err := pki.DecodeCMS(raw)
	if err == nil {
		v, err = ts.Verify(der, opts)
	}
	rep := report(v, err)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printReport(rep)
	}
	if err != nil {
		return &exitError{code: 1}
	}
	if *out != "" {
		return os.WriteFile(*out, v.Content, 0o600)
	}
	return nil
}

func report(v *pki.Verified, err error) verifyReport {
	if err != nil {
		code := pki.CodeOf(err)
		if code == "" {
			code = pki.CodeMalformed
		}
		return verifyReport{Code: code, Message: err.Error()}
	}
	r := verifyReport{
		OK: true, IIN: v.IIN.String(), BIN: v.BIN.String(), Name: v.FullName(), Organization: v.Organization,
		Roles: v.Roles, Serial: v.Serial, Fingerprint: v.Fingerprint, Issuer: v.Certificate.Issuer.String(),
		ContentBytes: len(v.Content),
	}
	if !v.SigningTime.IsZero() {
		t := v.SigningTime.UTC()
		r.SigningTime = &t
	}
	return r
}

func printReport(r verifyReport) {
	if !r.OK {
		fmt.Printf("FAIL %s\n  %s\n", r.Code, r.Message)
		return
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	signed := "-"
	if r.SigningTime != nil {
		signed = r.SigningTime.Format(time.RFC3339)
	}
	fmt.Printf("OK   signature verified\n")
	fmt.Printf("  signer        %s\n  iin           %s\n  bin           %s\n  organization  %s\n  roles         %v\n",
		r.Name, r.IIN, dash(r.BIN), dash(r.Organization), r.Roles)
	fmt.Printf("  certificate   serial %s\n  sha256        %s\n  issuer        %s\n  signed at     %s\n  content       %d bytes\n",
		r.Serial, r.Fingerprint, r.Issuer, signed, r.ContentBytes)
}

func cmdCMSSign(args []string) error {
	fs := flag.NewFlagSet("senim cms sign", flag.ContinueOnError)
	p12 := fs.String("p12", "", "PKCS#12 key store (required)")
	password := fs.String("password", "", "key-store password")
	in := fs.String("in", "", "file to sign (required; - for stdin)")
	out := fs.String("out", "", "where to write the CMS (default: stdout)")
	detached := fs.Bool("detached", false, "leave the content out of the CMS")
	format := fs.String("format", "der", "der, pem or base64 (what NCALayer returns)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *p12 == "" || *in == "" {
		fs.Usage()
		return &exitError{code: 2, msg: "--p12 and --in are required"}
	}
	k, err := pki.LoadPKCS12(*p12, *password)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	data, err := readInput(*in)
	if err != nil {
		return err
	}
	der, err := k.Sign(data, pki.SignOptions{Detached: *detached})
	if err != nil {
		return err
	}
	var enc []byte
	switch *format {
	case "der":
		enc = der
	case "base64":
		enc = []byte(base64.StdEncoding.EncodeToString(der) + "\n")
	case "pem":
		enc = []byte("-----BEGIN CMS-----\n" + wrap64(base64.StdEncoding.EncodeToString(der)) + "-----END CMS-----\n")
	default:
		return &exitError{code: 2, msg: fmt.Sprintf("--format %q: want der, pem or base64", *format)}
	}
	if *out == "" {
		_, err = os.Stdout.Write(enc)
		return err
	}
	return os.WriteFile(*out, enc, 0o644)
}

func wrap64(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 64 {
		b.WriteString(s[i:min(i+64, len(s))])
		b.WriteByte('\n')
	}
	return b.String()
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

// reorder moves flags before positional arguments, so that
// `senim cms verify FILE --content X` works as users type it.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !isBoolFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func isBoolFlag(a string) bool {
	switch strings.TrimLeft(a, "-") {
	case "json", "live", "detached", "plain", "digital-id", "h", "help":
		return true
	}
	return false
}
