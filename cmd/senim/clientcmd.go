package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/ncalayer"
	"github.com/senim-kz/senim/registry"
	"github.com/senim-kz/senim/transport/protocol"
)

// cmdClient is an interactive client of the session protocol: a notary, a
// client or an attorney at a terminal, one command per line. It is how a
// newcomer walks through an act by hand, and it speaks only the documented
// protocol (through package client).
func cmdClient(args []string) error {
	fs := flag.NewFlagSet("senim client", flag.ContinueOnError)
	server := fs.String("server", "127.0.0.1:8080", "Senim's HTTP address")
	role := fs.String("role", "", "client, attorney or notary")
	var p12s stringList
	fs.Var(&p12s, "p12", "key store (repeat: the AUTH_RSA and the RSA file); clients and attorneys")
	password := fs.String("password", "", "the key-store password of a client or attorney, or the notary's password")
	p12Password := fs.String("p12-password", "", "the key-store password when it differs from --password (a notary's EDS)")
	login := fs.String("login", "", "notary login")
	nca := fs.String("ncalayer", "", "sign through NCALayer (or the stand-in) at this URL instead of --p12, e.g. ws://127.0.0.1:13579")
	egov := fs.Bool("egov", false, "sign in and sign (client, attorney) with eGov mobile: each signature is a link for the phone")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	var signer client.Signer
	switch {
	case *nca != "":
		c, err := ncalayer.Dial(ctx, *nca, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		signer = c
	case len(p12s) > 0:
		var ks client.KeySigner
		pw := *password
		if *p12Password != "" {
			pw = *p12Password
		}
		for _, p := range p12s {
			k, err := pki.LoadPKCS12(p, pw)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			ks = append(ks, k)
		}
		signer = ks
	}
	c, err := client.Dial(ctx, "ws://"+*server+"/ws", client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	var w protocol.Welcome
	switch *role {
	case "client", "attorney":
		if *egov {
			var cms string
			if cms, err = phoneSign(ctx, c, os.Stdout, "http://"+*server, "", protocol.SignLinkQuery{What: "signin"}); err == nil {
				der, _ := base64.StdEncoding.DecodeString(cms)
				w, err = c.SignInCMS(ctx, *role, der)
			}
			break
		}
		if signer == nil {
			return &exitError{code: 2, msg: "--p12 (or --ncalayer) is required to sign in with an EDS"}
		}
		w, err = c.SignInEDS(ctx, *role, signer)
	case "notary":
		w, err = c.SignInPassword(ctx, *login, *password)
	default:
		return &exitError{code: 2, msg: "--role must be client, attorney or notary"}
	}
	if err != nil {
		return err
	}
	fmt.Printf("signed in as %s %s %s%s. Type help.\n", w.Role, w.Name, w.IIN, w.Login)
	pushes := &pushPrinter{out: os.Stdout, lost: func() { os.Exit(1) }}
	go pushes.run(c.Events(), c.Offers())
	// Runs before the deferred c.Close: the connection closed on a quit
	// or at the end of input is not a lost one.
	defer pushes.quit()
	r := &repl{c: c, signer: signer, role: *role, http: "http://" + *server, out: os.Stdout, egov: *egov}
	sc := bufio.NewScanner(os.Stdin)
	fmt.Print("> ")
	for sc.Scan() {
		if quit := r.line(sc.Text()); quit {
			return nil
		}
		fmt.Print("> ")
	}
	return sc.Err()
}

// pushPrinter prints the events and offers the server pushes while the
// prompt waits. A connection the server drops ends the program (lost:
// exit 1, the prompt is blocked reading its input); one the program
// closes after quit (quit first) ends only the printer.
type pushPrinter struct {
	out      io.Writer
	lost     func()
	quitting atomic.Bool
}

func (p *pushPrinter) quit() { p.quitting.Store(true) }

func (p *pushPrinter) run(events, offers <-chan protocol.Envelope) {
	for {
		select {
		case e, ok := <-events:
			if !ok {
				if p.quitting.Load() {
					return
				}
				fmt.Fprintln(p.out, "\nconnection closed")
				p.lost()
				return
			}
			fmt.Fprintf(p.out, "\n<- event %s #%d %s by %s %s\n> ", e.Act, e.Seq, e.Name, e.Actor, e.Body)
		case o, ok := <-offers:
			if !ok {
				// Closed with events, which say what follows.
				offers = nil
				continue
			}
			fmt.Fprintf(p.out, "\n<- %s %s %s\n> ", o.Type, o.Act, o.Body)
		}
	}
}

type repl struct {
	c      *client.Client
	signer client.Signer
	role   string
	http   string
	out    io.Writer
	egov   bool // sign with eGov mobile (clientegov.go)
}

const replHelp = `commands (ACT is an act id):
  all:      show ACT | watch ACT [SEQ] | raw {json envelope} | quit
  client:   apply PHONE ATTORNEY_IIN | call ACT | approve ACT REV | changes ACT REV COMMENTS...
            pay ACT | cancel ACT [REASON...] | revoke ACT [REASON...] | end ACT | acts
            save ACT (to Digital documents) | docs (what you saved there)
  attorney: consent ACT | refuse ACT [REASON...] | acts
  notary:   available | away | accept ACT | decline ACT | end ACT
            check ACT document_shown|registry_lookup|legal_capacity|rights_explained pass|fail [NOTE...]
            lookup ACT IIN (the act's principal or attorney in the individuals registry; on the act's record)
            draft ACT REGISTRY_NO TERM_MONTHS POWERS... | invoice ACT | code ACT | sign ACT
            refuse ACT REASON... | register | completed`

// line runs one command and reports whether to quit.
func (r *repl) line(text string) bool {
	f := strings.Fields(text)
	if len(f) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	rest := func(i int) string {
		if i < len(f) {
			return strings.Join(f[i:], " ")
		}
		return ""
	}
	num := func(i int) int { n, _ := strconv.Atoi(arg(i)); return n }
	cmd := func(name string, body any) {
		ack, err := r.c.Command(ctx, arg(1), name, body)
		r.report(err, fmt.Sprintf("ok, act %s is at #%d", arg(1), ack.Seq))
	}
	signed := func(what string, rev int) (string, bool) {
		if r.egov && what != "document" {
			cms, err := phoneSign(ctx, r.c, r.out, r.http, arg(1), protocol.SignLinkQuery{What: egovWhat(what), Revision: rev})
			if err != nil {
				r.report(err, "")
				return "", false
			}
			return cms, true
		}
		if r.signer == nil {
			fmt.Fprintln(r.out, "no signer: start with --p12 or --ncalayer")
			return "", false
		}
		cms, err := r.c.SignStep(ctx, r.signer, arg(1), what, rev)
		if err != nil {
			r.report(err, "")
			return "", false
		}
		return cms, true
	}
	switch f[0] {
	case "help":
		fmt.Fprintln(r.out, replHelp)
	case "quit", "exit":
		return true
	case "apply":
		var id string
		var err error
		if r.egov {
			id, err = r.applyByPhone(ctx, arg(1), arg(2))
		} else {
			id, err = r.c.Apply(ctx, r.signer, arg(1), arg(2))
		}
		r.report(err, "application submitted: act "+id)
	case "save":
		cmd("save_document", nil)
	case "docs":
		r.myDocuments(ctx)
	case "call":
		cmd("request_call", nil)
	case "approve":
		if cms, ok := signed("draft", num(2)); ok {
			cmd("approve_draft", map[string]any{"revision": num(2), "cms": cms})
		}
	case "changes":
		cmd("request_changes", map[string]any{"revision": num(2), "comments": rest(3)})
	case "cancel":
		cmd("cancel_act", map[string]any{"reason": rest(2)})
	case "revoke":
		if cms, ok := signed("revocation", 0); ok {
			cmd("revoke_poa", map[string]any{"reason": rest(2), "cms": cms})
		}
	case "end":
		cmd("end_call", nil)
	case "consent":
		if cms, ok := signed("consent", 0); ok {
			cmd("give_consent", map[string]any{"cms": cms})
		}
	case "refuse":
		if r.role == "attorney" {
			cmd("refuse_consent", map[string]any{"reason": rest(2)})
		} else {
			cmd("refuse_act", map[string]any{"reason": rest(2)})
		}
	case "available", "away":
		r.report(r.c.Operator(ctx, f[0], ""), "operator mode: "+f[0])
	case "decline":
		r.report(r.c.Operator(ctx, "decline", arg(1)), "declined")
	case "accept":
		cmd("accept_call", nil)
	case "check":
		cmd("record_check", map[string]any{"check": arg(2), "passed": arg(3) == "pass", "note": rest(4)})
	case "lookup":
		var p registry.Person
		if err := r.c.Query(ctx, "registry_lookup", arg(1), map[string]string{"iin": arg(2)}, &p); err != nil {
			r.report(err, "")
			return false
		}
		fmt.Fprintf(r.out, "registry: %s %s, born %s (the look-up is in act %s's record)\n", p.IIN, p.FullName(), p.BirthDate, arg(1))
	case "draft":
		cmd("present_draft", map[string]any{"registry_number": arg(2), "term_months": num(3), "powers": rest(4)})
	case "invoice":
		cmd("issue_invoice", nil)
	case "code":
		cmd("issue_document_code", nil)
	case "sign":
		if cms, ok := signed("document", 0); ok {
			cmd("sign_act", map[string]any{"cms": cms})
		}
	case "pay":
		r.pay(ctx, arg(1))
	case "show":
		var s act.State
		if err := r.c.Query(ctx, "act", arg(1), nil, &s); err != nil {
			r.report(err, "")
			return false
		}
		s.Application.CMS, s.NotarySig, s.ApprovalSig, s.Consent = nil, nil, nil, nil
		b, _ := json.MarshalIndent(s, "", "  ")
		fmt.Fprintln(r.out, string(b))
	case "watch":
		seq, _ := strconv.ParseUint(arg(2), 10, 64)
		r.report(r.c.Subscribe(ctx, arg(1), seq), "watching "+arg(1))
	case "acts", "register", "completed":
		name := map[string]string{"client": "my_acts", "attorney": "attorney_acts"}[r.role]
		if f[0] != "acts" {
			name = f[0]
		}
		var res struct{ Acts []protocol.ActSummary }
		if err := r.c.Query(ctx, name, "", nil, &res); err != nil {
			r.report(err, "")
			return false
		}
		for _, a := range res.Acts {
			fmt.Fprintf(r.out, "%s  %-16s  principal %s  attorney %s  notary %s  code %s  %s\n", a.Act, a.Phase, a.PrincipalIIN, a.AttorneyIIN, a.Notary, a.DocumentCode, a.Phone)
		}
	case "raw":
		var env protocol.Envelope
		if err := json.Unmarshal([]byte(rest(1)), &env); err != nil {
			fmt.Fprintln(r.out, "not an envelope:", err)
			return false
		}
		ans, err := r.c.Do(ctx, env)
		b, _ := json.Marshal(ans)
		r.report(err, string(b))
	default:
		fmt.Fprintln(r.out, "unknown command; type help")
	}
	return false
}

// pay plays the client's bank app: it asks Senim for the act's payment
// link (the principal alone gets it) and, when the link is the development
// bank stand-in's, pays there; a real bank's link is printed to open.
func (r *repl) pay(ctx context.Context, actID string) {
	link, err := r.c.PaymentLink(ctx, actID)
	if err != nil {
		r.report(err, "")
		return
	}
	if !strings.HasPrefix(link.URL, r.http+"/bank/pay/") {
		fmt.Fprintf(r.out, "pay %d tiyn at: %s\n", link.Amount, link.URL)
		return
	}
	p, err := client.PayAtStandIn(ctx, link.URL)
	if err != nil {
		r.report(err, "")
		return
	}
	switch p.Status {
	case "accepted":
		fmt.Fprintf(r.out, "bank: paid %d tiyn (%s); Senim accepted the payment\n", p.Amount, p.PaymentID)
	case "refused":
		fmt.Fprintf(r.out, "bank: Senim refused payment %s: %s %s (to be refunded)\n", p.PaymentID, p.Code, p.Message)
	default:
		fmt.Fprintf(r.out, "bank: payment %s made; Senim has not confirmed it yet (the bank retries)\n", p.PaymentID)
	}
}

func (r *repl) report(err error, ok string) {
	if err != nil {
		fmt.Fprintln(r.out, "error:", err)
		return
	}
	fmt.Fprintln(r.out, ok)
}
