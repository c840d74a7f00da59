package actors

import (
	"os"
	"path/filepath"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/media/sfu"
)

// The registration video call of remote EDS issuance: the applicant and
// the registrar who took the call meet in an SFU room of their own (room
// "issuance/<id>"), through the same SFU and TURN as the acts' calls but
// apart from the acts' media actors. The application decides who joins (its
// applicant, and its registrar while the call is on) and closes the room
// when the call's phase ends. When the server records calls (media.record),
// the call is recorded as an act's is, into the application's files
// (FilesDir/<id>/calls/<recording>/); once the room closed, its files and
// their SHA-256 go to the application as the system's record_call
// (call_recorded), retried until the log holds them.

// IssuanceJoin asks to join an application's registration call; the
// application checks Actor and forwards it to the calls actor.
type IssuanceJoin struct {
	AppID   string
	Actor   issuance.Actor
	Session *actor.PID
	Tag     string
	// Offers: the app makes the first offer for what it sends
	// (sfu.JoinOptions.Offers), as the browser app does for simulcast.
	Offers bool
}

func (m IssuanceJoin) appID() string { return m.AppID }

// issuanceCallJoin is a join the application admitted.
type issuanceCallJoin struct {
	AppID       string
	Participant string
	Session     *actor.PID
	Tag         string
	Offers      bool
}

// issuanceCallOver closes an application's room.
type issuanceCallOver struct{ AppID string }

// issuanceSignal is a room's signal to one participant.
type issuanceSignal struct {
	AppID       string
	Participant string
	Signal      sfu.Signal
}

// IssuanceMediaIn is a participant's signal after joining.
type IssuanceMediaIn struct {
	AppID       string
	Participant string
	Session     *actor.PID
	Tag         string
	Kind        string
	SDP         string
	Candidate   *webrtc.ICECandidateInit
}

// callParticipant is the room's name for an actor of the call.
func callParticipant(a issuance.Actor) string {
	if a.Role == issuance.RoleApplicant {
		return "applicant"
	}
	return a.String()
}

// joinCall admits the applicant and the call's registrar while the call is on.
func (a *appActor) joinCall(c *actor.Context, m IssuanceJoin) {
	fail := func(code, msg string) {
		c.Send(m.Session, MediaOut{ActID: a.id, Tag: m.Tag, Code: code, Message: msg})
	}
	s := &a.state
	applicant := m.Actor.Role == issuance.RoleApplicant && m.Actor.ID != "" && m.Actor.ID == s.Applicant.ID
	registrar := m.Actor.Role == issuance.RoleOperator && m.Actor.ID != "" && m.Actor.ID == s.Operator.ID
	switch {
	case !a.loaded:
		fail(a.failure())
	case !applicant && !registrar:
		fail(string(issuance.CodeForbidden), "only the applicant and the registrar who took the call take part in it")
	case s.Phase != issuance.PhaseRegistrationCall:
		fail(CodeNotInCall, "the application has no registration call in progress")
	case a.idep.calls == nil:
		fail(CodeMediaUnavailable, "this server runs no video calls")
	default:
		c.Send(a.idep.calls, issuanceCallJoin{AppID: a.id, Participant: callParticipant(m.Actor), Session: m.Session, Tag: m.Tag, Offers: m.Offers})
	}
}

// callRoom is one application's room.
type callRoom struct {
	room     *sfu.Room
	id       string                // the recording id
	dir      string                // where it records; "" records nothing
	sessions map[string]*actor.PID // participant -> the session that joined last
}

// callClosed: a room closed (off the actor: closing waits for the
// recorders) with what it recorded.
type callClosed struct {
	AppID string
	Cmd   issuance.RecordCall
}

// issuanceCalls owns the registration calls' rooms.
type issuanceCalls struct {
	deps  Deps
	idep  *IssuanceDeps
	rooms map[string]*callRoom
	// pending are the recordings the application has not taken yet, by
	// command id.
	pending map[string]callClosed
}

// callDir is where an application's call records: FilesDir/<app>/calls/<recording>.
func (k *issuanceCalls) callDir(app, rec string) (string, error) {
	if k.deps.Media.RecordDir == "" || k.idep == nil || k.idep.FilesDir == "" {
		return "", nil
	}
	return safepath.Join(k.idep.FilesDir, app, "calls", rec)
}

// recordCallID is the command id of a recording's record_call.
func recordCallID(rec string) string { return SystemIDPrefix + "record_call-" + rec }

// RoomOf is the SFU room (and TURN credential) key of an application's call.
func RoomOf(appID string) string { return IssuanceStreamOf(appID) }

func (k *issuanceCalls) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		k.salvage(c)
	case issuanceCallJoin:
		r := k.rooms[m.AppID]
		if r == nil {
			eng, self, app := c.Engine(), c.PID(), m.AppID
			r = &callRoom{id: newRecordingID(), sessions: map[string]*actor.PID{}}
			dir, err := k.callDir(app, r.id)
			if err != nil {
				c.Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Code: string(issuance.CodeBadApplicationID), Message: err.Error()})
				return
			}
			r.dir = dir
			var budget *sfu.RecordBudget
			if n := k.deps.Media.MaxRecordingBytes; n > 0 && dir != "" {
				budget = sfu.NewRecordBudget(n, func() {
					k.deps.Logger.Warn().Str("application", app).Int64("max_bytes", n).Msg("registration call's recording stopped at its size cap")
				})
			}
			r.room = k.deps.Media.SFU.NewRoom(sfu.RoomOptions{ID: RoomOf(app), RecordDir: dir, Budget: budget,
				Sink: func(p string, s sfu.Signal) { eng.Send(self, issuanceSignal{AppID: app, Participant: p, Signal: s}) }})
			k.rooms[m.AppID] = r
			k.deps.Logger.Info().Str("application", app).Str("recording", r.id).Bool("records", dir != "").Msg("registration call opened")
		}
		r.sessions[m.Participant] = m.Session
		out := MediaOut{ActID: m.AppID, Tag: m.Tag, Kind: "joined"}
		if r.dir != "" {
			out.Notice = act.RecordingNotice
		}
		if f := k.deps.Media.ICEServers; f != nil {
			out.ICEServers = f(RoomOf(m.AppID), m.Participant)
		}
		// The session hears joined before the room's first offer.
		c.Send(m.Session, out)
		if err := r.room.JoinWith(m.Participant, sfu.JoinOptions{Offers: m.Offers}); err != nil {
			c.Send(m.Session, MediaOut{ActID: m.AppID, Code: CodeInternal, Message: err.Error()})
		}
	case issuanceSignal:
		if r := k.rooms[m.AppID]; r != nil {
			if pid := r.sessions[m.Participant]; pid != nil {
				c.Send(pid, MediaOut{ActID: m.AppID, Kind: m.Signal.Kind, SDP: m.Signal.SDP, Candidate: m.Signal.Candidate})
			}
		}
	case IssuanceMediaIn:
		k.signal(c, m)
	case issuanceCallOver:
		if r := k.rooms[m.AppID]; r != nil {
			delete(k.rooms, m.AppID)
			for _, pid := range r.sessions {
				c.Send(pid, MediaOut{ActID: m.AppID, Kind: "closed", Message: "the registration call is over"})
			}
			eng, self, app := c.Engine(), c.PID(), m.AppID
			go func() {
				recs := r.room.Close()
				if r.dir != "" {
					eng.Send(self, callClosed{AppID: app, Cmd: recordCallOf(r.id, recs)})
				}
			}()
		}
	case callClosed:
		k.pending[recordCallID(m.Cmd.Recording)] = m
		k.sendRecording(c, m)
	case retryRecording:
		if m2, ok := k.pending[m.CommandID]; ok {
			k.sendRecording(c, m2)
		}
	case IssuanceResult:
		k.recorded(c, m)
	case actor.Stopped:
		for _, r := range k.rooms {
			r.room.Close()
		}
	}
}

// retryRecording asks the application again to record a call.
type retryRecording struct{ CommandID string }

func (k *issuanceCalls) sendRecording(c *actor.Context, m callClosed) {
	if k.idep == nil || k.idep.router == nil {
		return
	}
	c.Send(k.idep.router, IssuanceCommand{AppID: m.AppID, CommandID: recordCallID(m.Cmd.Recording),
		Actor: issuance.Actor{Role: issuance.RoleSystem}, Cmd: m.Cmd, ReplyTo: c.PID()})
}

// recorded is the application's answer to a record_call: done, or (if the
// log could not take it) asked again later, since the files are on disk.
func (k *issuanceCalls) recorded(c *actor.Context, m IssuanceResult) {
	p, ok := k.pending[m.CommandID]
	if !ok {
		return
	}
	if m.Code == CodeInternal && !k.idep.stopped() {
		eng, self, id := c.Engine(), c.PID(), m.CommandID
		time.AfterFunc(retryRecordingCommand, func() { eng.Send(self, retryRecording{CommandID: id}) })
		return
	}
	delete(k.pending, m.CommandID)
	if m.Code == CodeIDReused {
		// A salvage of a recording the application already took from the
		// room (its durations were known then): the log has it.
		m.Code = ""
	}
	if m.Code != "" {
		k.deps.Logger.Error().Str("application", m.AppID).Str("recording", p.Cmd.Recording).Str("code", m.Code).Str("message", m.Message).
			Msg("registration call's recording refused")
		return
	}
	k.deps.Logger.Info().Str("application", m.AppID).Str("recording", p.Cmd.Recording).Int("files", len(p.Cmd.Files)).Msg("registration call recorded")
	if dir, err := k.callDir(m.AppID, p.Cmd.Recording); err == nil && dir != "" {
		markFinished(dir)
	}
}

// salvage records the calls whose rooms never closed properly (the server
// stopped mid-call): each recording directory without its FINISHED marker
// is hashed as it is and sent to its application, as acts' are. One the
// application holds already is a repeat and changes nothing.
func (k *issuanceCalls) salvage(c *actor.Context) {
	if k.deps.Media.RecordDir == "" || k.idep == nil || k.idep.FilesDir == "" {
		return
	}
	apps, err := os.ReadDir(k.idep.FilesDir)
	if err != nil {
		return // nothing stored yet
	}
	for _, a := range apps {
		if !a.IsDir() || !issuance.ValidApplicationID(a.Name()) {
			continue
		}
		calls, err := safepath.Join(k.idep.FilesDir, a.Name(), "calls")
		if err != nil {
			continue
		}
		recs, _ := os.ReadDir(calls)
		for _, rec := range recs {
			dir, err := k.callDir(a.Name(), rec.Name())
			if err != nil || !rec.IsDir() {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, finishedMarker)); err == nil {
				continue
			}
			files, err := sfu.Salvage(dir)
			if err != nil {
				// A WebM that cannot be finished is left as it is; the
				// track files are recorded all the same.
				k.deps.Logger.Error().Err(err).Str("dir", dir).Msg("salvage registration call")
				if files == nil {
					continue
				}
			}
			k.deps.Logger.Warn().Str("application", a.Name()).Str("recording", rec.Name()).Int("files", len(files)).
				Msg("recording a registration call left by a stopped server")
			m := callClosed{AppID: a.Name(), Cmd: recordCallOf(rec.Name(), files)}
			k.pending[recordCallID(rec.Name())] = m
			k.sendRecording(c, m)
		}
	}
}

func recordCallOf(id string, recs []sfu.Recording) issuance.RecordCall {
	out := issuance.RecordCall{Recording: id, Files: []issuance.CallFile{}}
	for _, x := range recs {
		out.Files = append(out.Files, issuance.CallFile{Participant: x.Participant, Kind: x.Kind, Codec: x.Codec, File: x.File,
			SHA256: x.SHA256, Bytes: x.Bytes, DurationMS: x.Duration, StartedAt: x.Started, EndedAt: x.Ended, Cut: x.Cut})
	}
	return out
}

func (k *issuanceCalls) signal(c *actor.Context, m IssuanceMediaIn) {
	r := k.rooms[m.AppID]
	if r == nil || r.sessions[m.Participant] == nil || !r.sessions[m.Participant].Equals(m.Session) || !r.room.Has(m.Participant) {
		c.Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Code: CodeNotJoined, Message: "join the call first"})
		return
	}
	var err error
	switch m.Kind {
	case "offer":
		err = r.room.Offer(m.Participant, m.SDP)
	case "answer":
		err = r.room.Answer(m.Participant, m.SDP)
	case "candidate":
		err = r.room.Candidate(m.Participant, *m.Candidate)
	case "restart":
		err = r.room.Restart(m.Participant)
	case "leave":
		err = r.room.Leave(m.Participant)
		delete(r.sessions, m.Participant)
	}
	switch {
	case err != nil && (m.Kind == "answer" || m.Kind == "offer"):
		c.Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Code: CodeBadSDP, Message: err.Error()})
	case err != nil && m.Kind == "candidate":
		c.Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Code: CodeBadCandidate, Message: err.Error()})
	case m.Kind == "restart" || m.Kind == "leave":
		c.Send(m.Session, MediaOut{ActID: m.AppID, Tag: m.Tag, Ack: true})
	}
}
