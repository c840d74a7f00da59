package actors

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/transport/protocol"
)

// Media is what the media actors need: the SFU and where recordings go.
type Media struct {
	SFU *sfu.SFU
	// RecordDir holds the recordings, one directory per act and call
	// (RecordDir/<act>/<recording>/); empty records nothing.
	RecordDir string
	// ICEServers returns the TURN servers, with credentials valid for the
	// call, for a participant of an act's call; nil when TURN is off. They
	// go out with joined alone, so that only a call's participants hold
	// them.
	ICEServers func(actID, participant string) []protocol.ICEServer
	// MaxRecordingBytes caps what one call records (0: no cap); past it
	// the act records recording_stopped (size_cap) and the call goes on.
	MaxRecordingBytes int64
}

// Codes of the media signaling.
const (
	CodeNotInCall        = "not_in_call"       // the act has no call in progress
	CodeNotJoined        = "not_joined"        // a signal before joining the call
	CodeBadSDP           = "bad_sdp"           // an answer that does not apply
	CodeBadCandidate     = "bad_candidate"     // an ICE candidate that does not apply
	CodeMediaUnavailable = "media_unavailable" // this server runs no SFU
	CodeUnknownMediaKind = "unknown_media_kind"
)

// retryRecordingCommand is the pause before a room asks the act again to
// take its finished files.
const retryRecordingCommand = 2 * time.Second

// JoinCall is a session asking to join the video call of an act. The act
// checks who asks and whether the call is on, then hands it to the media
// actors.
type JoinCall struct {
	ActID   string
	Actor   act.Actor
	Session *actor.PID
	Tag     string
	// Resume keeps the participant's connection if the room has it, with
	// an ICE restart (the app's websocket came back; its page did not reload).
	Resume bool
	// Simulcast: the app sends its camera in simulcast layers when asked.
	Simulcast bool
	// Offers: the app makes the first offer (sfu.JoinOptions.Offers).
	Offers bool
}

func (m JoinCall) actID() string       { return m.ActID }
func (m JoinCall) replyTo() *actor.PID { return m.Session }
func (m JoinCall) failed(reason string) any {
	return MediaOut{ActID: m.ActID, Tag: m.Tag, Code: CodeInternal, Message: reason}
}

// MediaIn is a participant's signal after joining: an answer, an ICE
// candidate, an ICE restart request, or leaving.
type MediaIn struct {
	ActID       string
	Participant string // act.Actor.String() of the session's user
	Session     *actor.PID
	Tag         string
	Kind        string // offer, answer, candidate, restart, leave
	SDP         string
	Candidate   *webrtc.ICECandidateInit
}

// MediaOut goes to a participant's session: the answer to a join (Kind
// "joined", with the recording notice and the participant's TURN
// servers), an offer or candidate from the SFU, "closed" when the call's
// room closes, or an error (Code).
type MediaOut struct {
	ActID      string
	Tag        string
	Kind       string
	SDP        string
	Candidate  *webrtc.ICECandidateInit
	Notice     string
	ICEServers []protocol.ICEServer
	Code       string
	Message    string
	// Ack answers a restart or leave by its Tag: done.
	Ack bool
	// State, of a "network" message: see sfu.Signal.
	State string
}

// callOver tells the media actors that an act's call is no longer active.
type callOver struct{ ActID string }

// mediaRouter owns one room actor per act with a call: "media/room/<act>".
type mediaRouter struct {
	deps  Deps
	acts  *actor.PID
	rooms map[string]*actor.PID
}

func (r *mediaRouter) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		r.salvage(c)
	case CommandResult:
		// The answer to a salvaged recording's finish.
		// id_reused: the act holds this recording's finish from the room
		// itself (the salvaged files describe it differently): it is named.
		if m.Code != "" && m.Code != CodeIDReused {
			r.deps.Logger.Error().Str("act", m.ActID).Str("command", m.CommandID).Str("code", m.Code).Str("message", m.Message).Msg("salvaged recording refused")
			return
		}
		dir, err := safepath.Join(r.deps.Media.RecordDir, m.ActID, strings.TrimPrefix(m.CommandID, finishIDPrefix))
		if err != nil {
			r.deps.Logger.Error().Err(err).Str("command", m.CommandID).Msg("salvaged recording")
			return
		}
		markFinished(dir)
	case JoinCall:
		pid := r.rooms[m.ActID]
		if pid == nil {
			id := newRecordingID() // a call's room is new each time: a closing one may linger
			dir := ""
			if r.deps.Media.RecordDir != "" {
				var err error
				if dir, err = safepath.Join(r.deps.Media.RecordDir, m.ActID, id); err != nil {
					c.Send(m.Session, MediaOut{ActID: m.ActID, Tag: m.Tag, Code: string(act.CodeBadActID), Message: err.Error()})
					return
				}
			}
			pid = c.SpawnChild(newRoomActor(m.ActID, id, dir, r.deps, r.acts, c.PID()), "room", spawnOpts(r.deps.Logger, m.ActID+"."+id)...)
			r.rooms[m.ActID] = pid
		}
		c.Send(pid, m)
	case MediaIn:
		if pid := r.rooms[m.ActID]; pid != nil {
			c.Send(pid, m)
		} else if m.Session != nil {
			c.Send(m.Session, MediaOut{ActID: m.ActID, Tag: m.Tag, Code: CodeNotJoined, Message: "join the call first"})
		}
	case callOver:
		if pid := r.rooms[m.ActID]; pid != nil {
			delete(r.rooms, m.ActID)
			c.Send(pid, m)
		}
	case roomDone:
		if pid := r.rooms[m.ActID]; pid != nil && pid.Equals(m.PID) {
			delete(r.rooms, m.ActID)
		}
	}
}

// The ids of the recording commands the media server sends acts: in the
// system's namespace, which no app may write (see ReservedID).
const (
	startIDPrefix  = SystemIDPrefix + "start-"
	finishIDPrefix = SystemIDPrefix + "finish-"
)

// finishedMarker is written into a recording's directory once the act has
// its files' hashes.
const finishedMarker = "FINISHED"

func markFinished(dir string) {
	_ = os.WriteFile(filepath.Join(dir, finishedMarker), []byte("the act's log names these files\n"), 0o600)
}

// salvage finishes the recordings of rooms that never closed (the server
// died mid-call): their files are hashed as they are and named to their
// acts, so that nothing recorded goes unaccounted for. A recording the act
// has already finished is a duplicate command and changes nothing.
func (r *mediaRouter) salvage(c *actor.Context) {
	root := r.deps.Media.RecordDir
	if root == "" {
		return
	}
	acts, err := os.ReadDir(root)
	if err != nil {
		return // nothing recorded yet
	}
	for _, a := range acts {
		actDir, err := safepath.Join(root, a.Name())
		if err != nil {
			continue
		}
		recs, _ := os.ReadDir(actDir)
		for _, rec := range recs {
			dir, err := safepath.Join(actDir, rec.Name())
			if err != nil {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, finishedMarker)); err == nil || !rec.IsDir() {
				continue
			}
			files, err := sfu.Salvage(dir)
			if err != nil {
				// A WebM that cannot be finished is left as it is; the
				// track files are named to the act all the same.
				r.deps.Logger.Error().Err(err).Str("dir", dir).Msg("salvage recording")
				if files == nil {
					continue
				}
			}
			r.deps.Logger.Warn().Str("act", a.Name()).Str("recording", rec.Name()).Int("files", len(files)).Msg("finishing a recording left by a stopped server")
			body, _ := json.Marshal(finishOf(rec.Name(), files))
			c.Send(r.acts, ActCommand{ActID: a.Name(), CommandID: finishIDPrefix + rec.Name(), Actor: act.Actor{Role: act.RoleSystem},
				Name: (act.FinishRecording{}).CommandName(), Body: body, ReplyTo: c.PID()})
		}
	}
}

func finishOf(id string, recs []sfu.Recording) *act.FinishRecording {
	f := &act.FinishRecording{Recording: id, Files: []act.RecordingFile{}}
	for _, x := range recs {
		f.Files = append(f.Files, act.RecordingFile{Participant: x.Participant, Kind: x.Kind, Codec: x.Codec, File: x.File,
			SHA256: x.SHA256, Bytes: x.Bytes, DurationMS: x.Duration, StartedAt: x.Started, EndedAt: x.Ended, Cut: x.Cut})
	}
	return f
}

// roomDone: a room actor finished (its call is over and reported).
type roomDone struct {
	ActID string
	PID   *actor.PID
}

// roomActor drives one act's call: an SFU room, who is in it through which
// session, and the recording's events in the act.
type roomActor struct {
	act    string
	id     string // the recording id
	dir    string // where it is recorded (safepath-built); "" records nothing
	deps   Deps
	acts   *actor.PID
	parent *actor.PID
	self   *actor.PID
	eng    *actor.Engine
	room   *sfu.Room
	// sessions maps a participant to the session that joined last.
	sessions map[string]*actor.PID
	closing  bool
	finish   *act.FinishRecording
	opened   time.Time // when the room opened: the call's length counts from here
}

// signalOut is the room's sink, turned into a message to the room actor so
// that the sessions map is touched by the actor alone.
type signalOut struct {
	Participant string
	Signal      sfu.Signal
}

// retryFinish re-sends a finish_recording the act did not take.
type retryFinish struct{}

// Bounds of a call, as messages from its timers and its recorders.
type (
	callTooLong     struct{}
	recordingCapped struct{}
)

// The ids of the room's bounding commands, in the system's namespace.
const (
	limitIDPrefix = SystemIDPrefix + "limit-"
	stopIDPrefix  = SystemIDPrefix + "stop-"
)

func newRoomActor(actID, id, dir string, deps Deps, acts, parent *actor.PID) actor.Producer {
	return func() actor.Receiver {
		return &roomActor{act: actID, id: id, dir: dir, deps: deps, acts: acts, parent: parent, sessions: map[string]*actor.PID{}}
	}
}

func newRecordingID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "call-" + hex.EncodeToString(b)
}

func (r *roomActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		r.self, r.eng = c.PID(), c.Engine()
		if r.room == nil { // not after a restart: the room lives on
			r.open()
		}
	case JoinCall:
		r.join(c, m)
	case MediaIn:
		r.signal(c, m)
	case signalOut:
		if pid := r.sessions[m.Participant]; pid != nil {
			c.Send(pid, MediaOut{ActID: r.act, Kind: m.Signal.Kind, SDP: m.Signal.SDP, Candidate: m.Signal.Candidate, State: m.Signal.State})
		}
	case callOver:
		r.close(c)
	case actor.Stopped:
		// The server is stopping mid-call: finish the files and name them
		// to the act, without waiting for its answer.
		if !r.closing && r.room != nil {
			r.close(c)
		}
	case retryFinish:
		r.sendFinish(c)
	case callTooLong:
		// The act leads: it ends the call (call_ended, reason max_length)
		// and tells the media actors, which close this room.
		if !r.closing {
			body, _ := json.Marshal(act.LimitCall{Since: r.opened})
			c.Send(r.acts, ActCommand{ActID: r.act, CommandID: limitIDPrefix + r.id, Actor: act.Actor{Role: act.RoleSystem},
				Name: (act.LimitCall{}).CommandName(), Body: body, ReplyTo: c.PID()})
		}
	case recordingCapped:
		r.deps.Logger.Warn().Str("act", r.act).Str("recording", r.id).Int64("max_bytes", r.deps.Media.MaxRecordingBytes).Msg("recording stopped at its size cap; the call goes on")
		body, _ := json.Marshal(act.StopRecording{Recording: r.id, Reason: act.ReasonSizeCap})
		c.Send(r.acts, ActCommand{ActID: r.act, CommandID: stopIDPrefix + r.id, Actor: act.Actor{Role: act.RoleSystem},
			Name: (act.StopRecording{}).CommandName(), Body: body, ReplyTo: c.PID()})
	case CommandResult:
		r.commandResult(c, m)
	}
}

func (r *roomActor) open() {
	dir := r.dir
	eng, self := r.eng, r.self
	r.opened = r.deps.Now()
	if d := r.deps.Rules.CallMaxLength; d > 0 {
		time.AfterFunc(d, func() { eng.Send(self, callTooLong{}) })
	}
	var budget *sfu.RecordBudget
	if n := r.deps.Media.MaxRecordingBytes; n > 0 && dir != "" {
		budget = sfu.NewRecordBudget(n, func() { eng.Send(self, recordingCapped{}) })
	}
	r.room = r.deps.Media.SFU.NewRoom(sfu.RoomOptions{ID: r.act, RecordDir: dir, Budget: budget,
		Sink: func(p string, s sfu.Signal) { eng.Send(self, signalOut{Participant: p, Signal: s}) }})
	if dir != "" {
		// The act records that the call is recorded; its subscribers (the
		// participants) see the notice as an event.
		body, _ := json.Marshal(act.StartRecording{Recording: r.id})
		eng.Send(r.acts, ActCommand{ActID: r.act, CommandID: startIDPrefix + r.id, Actor: act.Actor{Role: act.RoleSystem},
			Name: (act.StartRecording{}).CommandName(), Body: body, ReplyTo: self})
	}
	r.deps.Logger.Info().Str("act", r.act).Str("recording", r.id).Bool("records", dir != "").Msg("call room opened")
}

func (r *roomActor) join(c *actor.Context, m JoinCall) {
	if r.closing {
		c.Send(m.Session, MediaOut{ActID: r.act, Tag: m.Tag, Code: CodeNotInCall, Message: "the call is over"})
		return
	}
	p := m.Actor.String()
	// The session is told first, so that it knows the call before the offer.
	notice := ""
	if r.dir != "" {
		notice = act.RecordingNotice
	}
	var ice []protocol.ICEServer
	if r.deps.Media.ICEServers != nil {
		ice = r.deps.Media.ICEServers(r.act, p)
	}
	old := r.sessions[p]
	r.sessions[p] = m.Session
	c.Send(m.Session, MediaOut{ActID: r.act, Tag: m.Tag, Kind: "joined", Notice: notice, ICEServers: ice})
	if m.Resume && r.room.Has(p) {
		if err := r.room.Restart(p); err == nil {
			return
		}
	}
	if err := r.room.JoinWith(p, sfu.JoinOptions{Simulcast: m.Simulcast, Offers: m.Offers}); err != nil {
		r.sessions[p] = old
		c.Send(m.Session, MediaOut{ActID: r.act, Code: CodeInternal, Message: err.Error()})
		return
	}
	if old != nil && !old.Equals(m.Session) {
		c.Send(old, MediaOut{ActID: r.act, Kind: "closed", Message: "joined from another connection"})
	}
}

func (r *roomActor) signal(c *actor.Context, m MediaIn) {
	if pid := r.sessions[m.Participant]; pid == nil || !pid.Equals(m.Session) {
		c.Send(m.Session, MediaOut{ActID: r.act, Tag: m.Tag, Code: CodeNotJoined, Message: "join the call first"})
		return
	}
	var err error
	switch m.Kind {
	case "offer":
		err = r.room.Offer(m.Participant, m.SDP)
	case "answer":
		err = r.room.Answer(m.Participant, m.SDP)
	case "candidate":
		if m.Candidate == nil {
			err = sfu.ErrBadCandidate
		} else {
			err = r.room.Candidate(m.Participant, *m.Candidate)
		}
	case "restart":
		err = r.room.Restart(m.Participant)
	case "leave":
		delete(r.sessions, m.Participant)
		err = r.room.Leave(m.Participant)
	}
	if err == nil {
		if (m.Kind == "restart" || m.Kind == "leave") && m.Tag != "" {
			// The app learns its request was taken (an ICE restart's
			// offer follows; a leave has nothing else to say).
			c.Send(m.Session, MediaOut{ActID: r.act, Tag: m.Tag, Ack: true})
		}
		return
	}
	code := CodeInternal
	switch {
	case errors.Is(err, sfu.ErrBadDescription):
		code = CodeBadSDP
	case errors.Is(err, sfu.ErrBadCandidate):
		code = CodeBadCandidate
	case errors.Is(err, sfu.ErrNoParticipant):
		code = CodeNotJoined
	}
	c.Send(m.Session, MediaOut{ActID: r.act, Tag: m.Tag, Code: code, Message: err.Error()})
}

// close ends the call: the room closes, its files are finished, and the act
// gets their hashes. The actor lives until the act took them.
func (r *roomActor) close(c *actor.Context) {
	if r.closing {
		return
	}
	r.closing = true
	for _, pid := range r.sessions {
		c.Send(pid, MediaOut{ActID: r.act, Kind: "closed", Message: "the call is over"})
	}
	r.sessions = map[string]*actor.PID{}
	recs := r.room.Close()
	r.deps.Logger.Info().Str("act", r.act).Str("recording", r.id).Int("files", len(recs)).Msg("call room closed")
	if r.dir == "" {
		r.done(c)
		return
	}
	r.finish = finishOf(r.id, recs)
	r.sendFinish(c)
}

func (r *roomActor) sendFinish(c *actor.Context) {
	body, _ := json.Marshal(r.finish)
	c.Send(r.acts, ActCommand{ActID: r.act, CommandID: finishIDPrefix + r.id, Actor: act.Actor{Role: act.RoleSystem},
		Name: (act.FinishRecording{}).CommandName(), Body: body, ReplyTo: c.PID()})
}

func (r *roomActor) commandResult(c *actor.Context, m CommandResult) {
	finishing := m.CommandID == finishIDPrefix+r.id
	if m.Code != "" {
		r.deps.Logger.Error().Str("act", r.act).Str("command", m.CommandID).Str("code", m.Code).Str("message", m.Message).Msg("recording event refused")
		if finishing && m.Code == CodeInternal {
			// The act could not save it (storage trouble): the files are on
			// disk, so keep trying until their hashes are in the log.
			eng, self := c.Engine(), c.PID()
			time.AfterFunc(retryRecordingCommand, func() { eng.Send(self, retryFinish{}) })
			return
		}
	}
	if finishing {
		if m.Code == "" {
			markFinished(r.dir)
		}
		r.done(c)
	}
}

func (r *roomActor) done(c *actor.Context) {
	c.Send(r.parent, roomDone{ActID: r.act, PID: c.PID()})
	c.Engine().Poison(c.PID())
}
