package server_test

import (
	"testing"
	"time"

	"github.com/senim-kz/senim/accounts"
	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// accountIn adds an account with roles (as `senim notary add --roles`) and
// signs it in with its password, returning the welcome's role too.
func (w *world) accountIn(login string, roles ...string) (*applicant, string) {
	w.t.Helper()
	if err := accounts.Add(server.AccountsPath(w.dir), accounts.Notary{Login: login, Name: "Сотрудник " + login, IIN: notaryIIN,
		Roles: roles}, login+"-password", time.Now()); err != nil {
		w.t.Fatal(err)
	}
	w.srv.Accounts.Refresh()
	c := w.dial()
	wel, err := c.SignInPassword(w.ctx(), login, login+"-password")
	if err != nil {
		w.t.Fatal(err)
	}
	return &applicant{w: w, c: c}, wel.Role
}

// waitingCall brings an act to a call request waiting on the notaries' desk.
func (w *world) waitingCall(t *testing.T) (string, *client.Client) {
	ctx := w.ctx()
	cl := w.eds("client", w.client)
	actID := mustOf[string](t)(cl.Apply(ctx, w.client, "+7 701 234 56 78", attorneyIIN))
	at := w.eds("attorney", w.attorney)
	cms := mustOf[string](t)(at.SignStep(ctx, w.attorney, actID, "consent", 0))
	mustOf[client.Ack](t)(at.Command(ctx, actID, "give_consent", map[string]any{"cms": cms}))
	mustOf[client.Ack](t)(cl.Command(ctx, actID, "request_call", nil))
	return actID, cl
}

// An account whose roles are only staff roles signs in as staff and is
// refused every notary capability; it still works its issuance queue.
func TestStaffAccountIsNotANotary(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	actID, cl := w.waitingCall(t)

	mod, role := w.accountIn("dana", accounts.RoleModerator)
	if role != "staff" {
		t.Fatalf("a moderator-only account signed in as %q, want staff", role)
	}
	refused(t, mod.c.Operator(ctx, "available", ""), "forbidden")
	_, err := mod.c.Command(ctx, actID, "accept_call", nil)
	refused(t, err, "forbidden")
	refused(t, mod.c.Query(ctx, "register", "", nil, nil), "forbidden")
	refused(t, mod.c.Query(ctx, "desk_queue", "", nil, nil), "forbidden")
	refused(t, mod.c.Subscribe(ctx, actID, 0), "forbidden")
	// Its own queue is open to it.
	mod.must("moderation_queue", nil)
	mod.must("available", nil)

	// The call is still waiting: the first notary in operator mode is offered it and takes it.
	aliya := w.notaryIn("aliya", "aliya-password")
	must(t, 0, aliya.Operator(ctx, "available", ""))
	next(t, aliya.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == actID })
	mustOf[client.Ack](t)(aliya.Command(ctx, actID, "accept_call", nil))
	if s := w.state(t, cl, actID); s.Notary.ID != "aliya" {
		t.Fatalf("the act is with %q, want aliya", s.Notary.ID)
	}
}

// A notary's account (roles none or notary) is refused staff capabilities;
// one with notary and moderator is both.
func TestStaffRolesOfNotaries(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx()
	if err := w.srv.IssuanceDev.BMG.Register(ctx, clientIIN, applicantPhone); err != nil {
		t.Fatal(err)
	}
	app := w.toApplication(clientIIN, "SENIM-FACE:MISMATCH")
	app.waitPhase(issuance.PhaseModeration)

	notary, role := w.accountIn("gulnar", accounts.RoleNotary)
	if role != "notary" {
		t.Fatalf("a notary-only account signed in as %q", role)
	}
	notary.refused("moderation_queue", nil, "forbidden")
	notary.refused("available", nil, "forbidden")
	notary.on(app.app).refused("take_moderation", nil, "forbidden")
	must(t, 0, notary.c.Operator(ctx, "available", ""))

	both, role := w.accountIn("dana", accounts.RoleNotary, accounts.RoleModerator)
	if role != "notary" {
		t.Fatalf("a notary and moderator signed in as %q", role)
	}
	// The moderation queue offers it the case, and it takes it.
	both.must("available", nil)
	if off := both.nextOffer(); off.Act != app.app {
		t.Fatalf("offered %s, want %s", off.Act, app.app)
	}
	both.on(app.app).must("take_moderation", nil)
	// On the notaries' desk it is a notary: offered the waiting call, it accepts it.
	must(t, 0, notary.c.Operator(ctx, "away", ""))
	actID, cl := w.waitingCall(t)
	must(t, 0, both.c.Operator(ctx, "available", ""))
	next(t, both.c.Offers(), func(e protocol.Envelope) bool { return e.Type == protocol.TypeOffer && e.Act == actID })
	mustOf[client.Ack](t)(both.c.Command(ctx, actID, "accept_call", nil))
	if s := w.state(t, cl, actID); s.Notary.ID != "dana" {
		t.Fatalf("the act is with %q, want dana", s.Notary.ID)
	}
}

// Turning a notary's account into a staff one ends its notary sessions:
// they would keep the desk and acts the account no longer has.
func TestAccountKindChangeEndsSessions(t *testing.T) {
	w := recheckWorld(t)
	aliya := w.notaryIn("aliya", "aliya-password")
	bolat := w.notaryIn("bolat", "bolat-password")
	if err := accounts.Add(server.AccountsPath(w.dir), accounts.Notary{Login: "aliya", Name: "Алия Нотариус", IIN: notaryIIN,
		Roles: []string{accounts.RoleModerator}}, "aliya-password", time.Now()); err != nil {
		t.Fatal(err)
	}
	w.srv.Accounts.Refresh()
	closedWith(t, aliya, "account_removed")
	alive(t, w, bolat)
	// Signing in again, aliya is staff now.
	if wel, err := w.dial().SignInPassword(w.ctx(), "aliya", "aliya-password"); err != nil || wel.Role != "staff" {
		t.Fatalf("aliya signed in again as %+v, %v; want staff", wel, err)
	}
}
