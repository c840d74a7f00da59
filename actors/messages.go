package actors

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/transport/protocol"
)

// ActCommand asks an act to run a command. Body is the command's JSON as the
// protocol carries it; signatures in it are base64 CMS, verified by the act.
type ActCommand struct {
	ActID     string
	CommandID string // client-chosen; a repeat returns the first outcome
	Actor     act.Actor
	Name      string
	Body      json.RawMessage
	ReplyTo   *actor.PID
}

func (m ActCommand) replyTo() *actor.PID { return m.ReplyTo }
func (m ActCommand) failed(reason string) any {
	return CommandResult{ActID: m.ActID, CommandID: m.CommandID, Code: CodeInternal, Message: "internal error: " + reason}
}

// Command ids Senim gives its own commands start with a reserved prefix:
// SystemIDPrefix for the media server's (start and finish of a recording),
// BankIDPrefix for the bank's callbacks. A session refuses any id with
// either (bad_message), so no app can write into the system's namespace.
const (
	SystemIDPrefix = "sys:"
	BankIDPrefix   = "bank:"
)

// ReservedID reports whether id is in a namespace apps may not use.
func ReservedID(id string) bool {
	return strings.HasPrefix(id, SystemIDPrefix) || strings.HasPrefix(id, BankIDPrefix)
}

// CodeInternal is the code of a command that failed inside Senim (a panic,
// a storage error). The client may retry with the same command id.
const CodeInternal = "internal"

// CommandResult answers an ActCommand: Code is empty on success, and Seq is
// then the act's last sequence number after the command.
type CommandResult struct {
	ActID     string
	CommandID string
	Seq       uint64
	Duplicate bool
	Code      string
	Message   string
	// events: the events the command made, when the session that sent it
	// is subscribed to the act. They come with the answer rather than as
	// an ActEvents of their own just before it, so that the session sends
	// both in one write to its socket.
	events *ActEvents
}

// Subscribe asks an act for its events after FromSeq, then every new one,
// as ActEvents to Subscriber. Only the act's parties may subscribe, plus a
// notary the desk has offered the act's call to.
type Subscribe struct {
	ActID      string
	FromSeq    uint64
	Actor      act.Actor
	Subscriber *actor.PID
}

func (m Subscribe) replyTo() *actor.PID { return m.Subscriber }
func (m Subscribe) failed(reason string) any {
	return SubscribeResult{ActID: m.ActID, Code: CodeInternal, Message: reason}
}

// SubscribeResult answers a Subscribe before any ActEvents follow.
type SubscribeResult struct {
	ActID   string
	Code    string
	Message string
	// events: what the subscriber missed, sent with the answer (as
	// CommandResult.events) rather than just after it.
	events *ActEvents
}

// Unsubscribe stops the events of an act to Subscriber.
type Unsubscribe struct {
	ActID      string
	Subscriber *actor.PID
}

// ActEvents carries stored events of one act, in sequence order.
type ActEvents struct {
	ActID   string
	Records []eventlog.Record
	// frames, when set, holds the records' frames as every session sends
	// them unredacted, made once by the first session that needs each: an
	// event used to be encoded again for every session it went to.
	frames *eventFrames
}

// eventFrames are the frames of an ActEvents' records, by index.
type eventFrames struct {
	mu     sync.Mutex
	frames [][]byte
}

// frame is the frame of record i with its stored payload.
func (m ActEvents) frame(i int) []byte {
	r := &m.Records[i]
	if m.frames == nil {
		return protocol.EventFrame(m.ActID, r.Seq, r.Type, r.Actor, r.At.UTC(), r.Payload)
	}
	f := m.frames
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frames == nil {
		f.frames = make([][]byte, len(m.Records))
	}
	if f.frames[i] == nil {
		f.frames[i] = protocol.EventFrame(m.ActID, r.Seq, r.Type, r.Actor, r.At.UTC(), r.Payload)
	}
	return f.frames[i]
}

// sameBytes says that a and b are the same bytes in memory (not a copy).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// GetState asks for the act's state as a participant sees it.
type GetState struct {
	ActID   string
	Actor   act.Actor
	ReplyTo *actor.PID
	Tag     string // echoed, so that the asker can match the answer
}

func (m GetState) replyTo() *actor.PID { return m.ReplyTo }
func (m GetState) failed(reason string) any {
	return StateResult{ActID: m.ActID, Tag: m.Tag, Code: CodeInternal, Message: reason}
}

// StateResult answers GetState.
type StateResult struct {
	ActID   string
	Tag     string
	State   act.State
	Code    string
	Message string
}
