package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/media/sfu"
	senimserver "github.com/senim-kz/senim/transport/server"
)

// hello is a participant's first line on the signaling connection: the
// room it joins and its name there.
type hello struct {
	Room string `json:"room"`
	ID   string `json:"id"`
}

// message is every later line, both ways: the room's sfu.Signal to the
// participant, the peer's peer.Signal (answer, candidate) to the room. An
// error line (Code set) ends the connection.
type message struct {
	Kind      string                   `json:"kind,omitempty"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	State     string                   `json:"state,omitempty"`
	Code      string                   `json:"code,omitempty"`
	Message   string                   `json:"message,omitempty"`
}

// The codes of an error line (bench/fanout/README.md).
const (
	codeBadHello    = "bad_hello"   // the first line is not a hello, or its room or id is not a plain name
	codeRoomFull    = "room_full"   // the room has maxParticipants already
	codeTooMany     = "too_many"    // the server holds maxRooms rooms already
	codeBadMessage  = "bad_message" // a later line is not JSON, or not an answer or candidate
	codeBadSignal   = "bad_signal"  // the room refused the answer or candidate (its error follows)
	codeSlowReader  = "slow_reader" // the participant does not read its signals
	codeJoinFailed  = "join_failed" // the room could not make a connection
	maxLine         = 1 << 20       // an SDP of a room of maxParticipants fits many times over
	maxParticipants = 200
	maxRooms        = 500
	signalQueue     = 1024 // signals waiting for a participant's connection
)

// names are what a room and a participant may be called: plain, short.
var names = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// server holds the SFU and its rooms, each made on its first participant
// and closed when its last one leaves.
type server struct {
	sfu       *sfu.SFU
	recordDir string // "": no recording
	budget    int64  // per room's recording, as call.max_recording_bytes
	log       zerolog.Logger

	mu    sync.Mutex
	rooms map[string]*room
}

type room struct {
	r     *sfu.Room
	mu    sync.Mutex
	conns map[string]*conn // participant -> its signaling connection
}

// conn is one participant's signaling connection.
type conn struct {
	c    net.Conn
	out  chan message
	done chan struct{} // closed with the connection
	once sync.Once
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.c.Close()
	})
}

// newServer makes the SFU of cfg's [media]; record says whether rooms
// record (into dataDir/recordings/<room>/), as media.record does; noGSO
// turns UDP segmentation offload off (sfu.Config.NoSegmentation).
func newServer(cfg config.Config, record, noGSO bool, dataDir string, log zerolog.Logger) (*server, error) {
	s := &server{log: log, rooms: map[string]*room{}, budget: cfg.Call.MaxRecordingBytes}
	sc := senimserver.SFUConfig(cfg.Media, log)
	if noGSO {
		sc.NoSegmentation = true
	}
	var err error
	if s.sfu, err = sfu.New(sc); err != nil {
		return nil, err
	}
	if record {
		s.recordDir = cfg.Media.RecordDir
		if !filepath.IsAbs(s.recordDir) {
			s.recordDir = filepath.Join(dataDir, s.recordDir)
		}
		if err := os.MkdirAll(s.recordDir, 0o700); err != nil {
			_ = s.sfu.Close()
			return nil, err
		}
	}
	return s, nil
}

// serve takes signaling connections on l until it closes.
func (s *server) serve(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go s.handle(c)
	}
}

// close closes every room (recordings finalized), then the SFU.
func (s *server) close() {
	s.mu.Lock()
	rooms := s.rooms
	s.rooms = map[string]*room{}
	s.mu.Unlock()
	for _, rm := range rooms {
		rm.r.Close()
	}
	_ = s.sfu.Close()
}

// refuse writes one error line and closes c.
func refuse(c net.Conn, code, msg string) {
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	b, _ := json.Marshal(message{Code: code, Message: msg})
	_, _ = c.Write(append(b, '\n'))
	_ = c.Close()
}

func (s *server) handle(nc net.Conn) {
	sc := bufio.NewScanner(nc)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h hello
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &h) != nil {
		refuse(nc, codeBadHello, "the first line must be {\"room\":…,\"id\":…}")
		return
	}
	if !names.MatchString(h.Room) || !names.MatchString(h.ID) {
		refuse(nc, codeBadHello, "room and id: 1-64 of A-Z a-z 0-9 _ -")
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	c := &conn{c: nc, out: make(chan message, signalQueue), done: make(chan struct{})}
	rm, code, err := s.enter(h, c)
	if err != nil {
		refuse(nc, code, err.Error())
		return
	}
	go c.write()
	if err := rm.r.Join(h.ID); err != nil {
		s.leave(h, rm, c)
		refuse(nc, codeJoinFailed, err.Error())
		return
	}
	failed := false
	for !failed && sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			c.fail(codeBadMessage, "not JSON")
			failed = true
			break
		}
		switch {
		case m.Kind == "answer":
			err = rm.r.Answer(h.ID, m.SDP)
		case m.Kind == "candidate" && m.Candidate != nil:
			err = rm.r.Candidate(h.ID, *m.Candidate)
		default:
			c.fail(codeBadMessage, "want an answer or a candidate")
			failed = true
		}
		if err != nil {
			c.fail(codeBadSignal, err.Error())
			failed = true
		}
	}
	s.leave(h, rm, c)
	if failed {
		// The writer closes the connection once the error line is out
		// (a close now could race it and lose the line).
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
		}
	}
	c.close()
}

// fail sends an error line, then the connection closes once it is out.
func (c *conn) fail(code, msg string) {
	select {
	case c.out <- message{Code: code, Message: msg}:
	default:
		c.close()
	}
}

// write sends c's queued signals; an error line is the last.
func (c *conn) write() {
	defer c.close()
	w := bufio.NewWriter(c.c)
	enc := json.NewEncoder(w)
	for {
		var m message
		select {
		case m = <-c.out:
		case <-c.done:
			return
		}
		if enc.Encode(m) != nil {
			return
		}
		if len(c.out) == 0 || m.Code != "" {
			if w.Flush() != nil || m.Code != "" {
				return
			}
		}
	}
}

// enter registers c in its room (made if new) before the room knows the
// participant: the room's first offer goes through the sink at Join.
func (s *server) enter(h hello, c *conn) (*room, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rm := s.rooms[h.Room]
	if rm == nil {
		if len(s.rooms) >= maxRooms {
			return nil, codeTooMany, fmt.Errorf("the server holds %d rooms", maxRooms)
		}
		opts := sfu.RoomOptions{ID: h.Room}
		if s.recordDir != "" {
			dir, err := safepath.Join(s.recordDir, h.Room)
			if err != nil {
				return nil, codeBadHello, err
			}
			opts.RecordDir = dir
			if s.budget > 0 {
				opts.Budget = sfu.NewRecordBudget(s.budget, func() { s.log.Warn().Str("room", h.Room).Msg("recording capped") })
			}
		}
		rm = &room{conns: map[string]*conn{}}
		opts.Sink = rm.sink
		rm.r = s.sfu.NewRoom(opts)
		s.rooms[h.Room] = rm
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if old := rm.conns[h.ID]; old != nil {
		old.close() // joining again replaces the connection, as the room does
	} else if len(rm.conns) >= maxParticipants {
		return nil, codeRoomFull, fmt.Errorf("a room holds at most %d participants", maxParticipants)
	}
	rm.conns[h.ID] = c
	return rm, "", nil
}

// leave takes c's participant out of its room, and closes the room when it
// was the last.
func (s *server) leave(h hello, rm *room, c *conn) {
	rm.mu.Lock()
	cur := rm.conns[h.ID] == c
	if cur {
		delete(rm.conns, h.ID)
	}
	empty := len(rm.conns) == 0
	rm.mu.Unlock()
	if cur {
		_ = rm.r.Leave(h.ID)
	}
	if !empty {
		return
	}
	s.mu.Lock()
	if s.rooms[h.Room] == rm {
		rm.mu.Lock()
		empty = len(rm.conns) == 0
		rm.mu.Unlock()
		if empty {
			delete(s.rooms, h.Room)
		}
	}
	s.mu.Unlock()
	if empty {
		rm.r.Close()
	}
}

// sink queues the room's signal for its participant; it never blocks (the
// room calls it under its lock): a participant that does not read its
// signals is cut off.
func (rm *room) sink(id string, sig sfu.Signal) {
	rm.mu.Lock()
	c := rm.conns[id]
	rm.mu.Unlock()
	if c == nil {
		return
	}
	select {
	case c.out <- message{Kind: sig.Kind, SDP: sig.SDP, Candidate: sig.Candidate, State: sig.State}:
	default:
		c.close()
	}
}
