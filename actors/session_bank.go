package actors

import (
	"context"
	"encoding/json"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/transport/protocol"
)

// paymentLinkAnswer is the bank's answer to a payment_link query.
type paymentLinkAnswer struct {
	env  protocol.Envelope
	link protocol.PaymentLink
	err  error
}

// paymentLink answers the payment_link query from the act's state. The pay
// link lets whoever holds it pay (at the stand-in, mark the act paid), so it
// goes to the act's principal only, and only while an invoice is open. The
// bank may be remote: it is asked off the actor's goroutine.
func (s *sessionActor) paymentLink(c *actor.Context, env protocol.Envelope, st *act.State) {
	switch {
	case s.me.Role != act.RoleClient || st.Principal.IIN != s.me.IIN:
		s.fail(env, string(act.CodeForbidden), "only the act's principal gets its payment link")
		return
	case st.Invoice == nil:
		s.fail(env, string(act.CodeUnknownInvoice), "the act has no open invoice")
		return
	case st.Paid():
		s.fail(env, string(act.CodeAlreadyPaid), "the invoice %s is paid", st.Invoice.ID)
		return
	case s.deps.Bank == nil:
		s.fail(env, CodeBankUnavailable, "this server has no bank")
		return
	}
	s.inFlight[env.ID] = "query"
	b, eng, self, inv := s.deps.Bank, c.Engine(), c.PID(), *st.Invoice
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		u, err := b.PaymentURL(ctx, inv.ID)
		eng.Send(self, paymentLinkAnswer{env: env, link: protocol.PaymentLink{URL: u, Invoice: inv.ID, Amount: int64(inv.Amount)}, err: err})
	}()
}

func (s *sessionActor) paymentLinkAnswer(m paymentLinkAnswer) {
	delete(s.inFlight, m.env.ID)
	if m.err != nil {
		s.log.Warn().Err(m.err).Str("act", m.env.Act).Msg("bank: no payment link")
		s.fail(m.env, CodeBankUnavailable, "the bank did not give a payment link; try again")
		return
	}
	body, _ := json.Marshal(m.link)
	s.send(protocol.Envelope{Type: protocol.TypeResult, ID: m.env.ID, Act: m.env.Act, Name: m.env.Name, Body: body})
}
