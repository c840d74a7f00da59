package sfu

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/senim-kz/senim/internal/safepath"
)

// A server killed mid-call leaves the call's WebM as WebMFile+".part": the
// provisional head the muxer keeps (webm.go: a Segment of unknown size,
// the tracks so far), the clusters written before the kill, and perhaps
// the start of one more (a cluster is written at once, but a large one
// reaches the file in pieces). recoverWebM makes of it a WebM like any
// other call's: the last cluster keeps its whole blocks (its size
// rewritten to them) and loses the piece of a block it ends in; Cues and
// the final head (the Segment's size, the duration) are written as the
// muxer would have; and the file takes its name, WebMFile. Its head's
// WritingApp says it was recovered (webmRecovered): the Recording Salvage
// lists for it is marked Cut, then and after any later start.
const webmRecovered = "senim-recovered"

// webmMaxCluster bounds what recovery reads of one cluster: the muxer's
// are 5 s of a call, a few MB at most.
const webmRecoverMaxCluster = 64 << 20

var (
	clusterID = []byte{0x1F, 0x43, 0xB6, 0x75}
	segmentID = []byte{0x18, 0x53, 0x80, 0x67}
)

// ErrWebMUnrecoverable: a call's unfinished WebM could not be finished; it
// is left as it is, and the call's track files are the recording.
var ErrWebMUnrecoverable = errors.New("sfu: the call's unfinished WebM cannot be finished")

// webmHead is what the head of a call's WebM names.
type webmHead struct {
	Info   webm.Info   `ebml:"Info"`
	Tracks webm.Tracks `ebml:"Tracks"`
}

// readWebMHead parses the head of a call's WebM (the reserved bytes at its
// start) with ebml-go; ok is false if the muxer never wrote one (no frame
// reached the file) or it is not one of Senim's.
func readWebMHead(f io.ReaderAt) (webmHead, bool) {
	b := make([]byte, webmReserved)
	if _, err := f.ReadAt(b, 0); err != nil {
		return webmHead{}, false
	}
	h := ebmlHeader()
	if !bytes.HasPrefix(b, h) || !bytes.Equal(b[len(h):len(h)+4], segmentID) {
		return webmHead{}, false
	}
	var head webmHead
	if err := ebml.Unmarshal(bytes.NewReader(b[len(h)+12:]), &head); err != nil || len(head.Tracks.TrackEntry) == 0 {
		return webmHead{}, false
	}
	return head, true
}

// recoverWebM finishes dir's WebMFile+".part", if there is one, as far as
// it got, and returns its Recording (Cut; nil if there is no .part). A part
// with no head (nothing was muxed) is left alone, as is one that cannot be
// finished (ErrWebMUnrecoverable).
func recoverWebM(dir string) (*Recording, error) {
	part, err := safepath.Join(dir, WebMFile+".part")
	if err != nil {
		return nil, err
	}
	final, err := safepath.Join(dir, WebMFile)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWebMUnrecoverable, err)
	}
	if _, err := os.Stat(final); err == nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: both %s and %s.part are there", ErrWebMUnrecoverable, WebMFile, WebMFile)
	}
	rec, err := finishPart(f, dir, part, final)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%w: %v", ErrWebMUnrecoverable, cerr)
	}
	if err != nil || rec == nil {
		return nil, err
	}
	if err := os.Rename(part, final); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWebMUnrecoverable, err)
	}
	syncDir(dir)
	sum, n, err := HashFile(final)
	if err != nil {
		return nil, err
	}
	rec.SHA256, rec.Bytes = sum, n
	return rec, nil
}

// finishPart writes the Cues and the final head of an open .part, its
// clusters cut to the last whole block; nil if it has no head.
func finishPart(f *os.File, dir, part, final string) (*Recording, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrWebMUnrecoverable, fmt.Sprintf(format, a...))
	}
	st, err := f.Stat()
	if err != nil {
		return nil, bad("%v", err)
	}
	head, ok := readWebMHead(f)
	if !ok {
		return nil, nil // no frame reached the file: nothing to finish
	}
	m := &webmMuxer{dir: dir, path: part, f: f, app: webmRecovered, clusterT: -1, tracks: map[string]*webmTrack{}}
	known := map[uint64]bool{}
	for _, e := range head.Tracks.TrackEntry {
		t := &webmTrack{num: e.TrackNumber, kind: "video", inFile: true}
		if e.TrackType == 2 {
			t.kind, t.channels = "audio", 2
			if e.Audio != nil && e.Audio.Channels > 0 {
				t.channels = e.Audio.Channels
			}
		} else if e.Video != nil {
			t.width, t.height = e.Video.PixelWidth, e.Video.PixelHeight
		}
		role, _, _ := strings.Cut(e.Name, " ")
		t.participant = role // the file names roles, never who (an IIN)
		m.order = append(m.order, t)
		known[t.num] = true
	}
	seg := m.segmentStart()
	size := st.Size()
	pos := int64(webmReserved)
	var blocks int64
	for pos+webmClusterHead <= size {
		var h [webmClusterHead]byte
		if _, err := f.ReadAt(h[:], pos); err != nil {
			return nil, bad("%v", err)
		}
		if !bytes.Equal(h[:4], clusterID) || h[4] != 0x01 {
			break // not one of the muxer's clusters: the file ends before it
		}
		want := int64(binary.BigEndian.Uint64(h[4:]) & (1<<56 - 1))
		have := size - pos - webmClusterHead
		if bytes.Equal(h[4:], unknownSize) || want > have {
			want = have
		}
		if want > webmRecoverMaxCluster {
			return nil, bad("a cluster of %d bytes at %d", want, pos)
		}
		body := make([]byte, want)
		if _, err := f.ReadAt(body, pos+webmClusterHead); err != nil {
			return nil, bad("%v", err)
		}
		c := walkCluster(body, known)
		if c.used == 0 || c.blocks == 0 {
			break // the cluster's start alone: it goes
		}
		if c.used != int64(binary.BigEndian.Uint64(h[4:])&(1<<56-1)) {
			putSize(h[4:], uint64(c.used)) // cut in its middle: it ends at its last whole block
			if _, err := f.WriteAt(h[4:], pos+4); err != nil {
				return nil, bad("%v", err)
			}
		}
		m.cues = append(m.cues, webm.CuePoint{CueTime: c.tc, CueTrackPositions: []webm.CueTrackPosition{
			{CueTrack: c.first, CueClusterPosition: uint64(pos - seg)}}})
		if c.last > m.last {
			m.last = c.last
		}
		blocks += c.blocks
		pos += webmClusterHead + c.used
		if c.used < want {
			break
		}
	}
	if err := f.Truncate(pos); err != nil {
		return nil, bad("%v", err)
	}
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		return nil, bad("%v", err)
	}
	m.pos, m.frames, m.w = pos, blocks, bufio.NewWriterSize(f, fileBuffer)
	if err := m.writeTail(); err != nil {
		return nil, bad("%v", err)
	}
	if err := f.Sync(); err != nil {
		return nil, bad("%v", err)
	}
	var parties []string
	for _, t := range m.order {
		parties = append(parties, t.participant)
	}
	return &Recording{Participant: strings.Join(dedupe(parties), " "), Kind: "video", Codec: WebMCodec, File: WebMFile,
		Duration: m.last, Packets: blocks, Cut: true}, nil
}

// clusterWalk is what walkCluster found in a cluster's body.
type clusterWalk struct {
	used   int64  // bytes of its whole elements, from the start
	tc     uint64 // its Timecode
	first  uint64 // the track of its first block
	blocks int64
	last   int64 // ms of its last block, in the file's time
}

// walkCluster reads a cluster's children (EBML elements, RFC 8794: an ID
// and a size, each a variable-length integer) up to the first one the body
// does not hold whole: the Timecode and the SimpleBlocks the muxer writes.
// A block of a track the head does not name ends the walk too.
func walkCluster(b []byte, known map[uint64]bool) clusterWalk {
	var c clusterWalk
	haveTC := false
	for off := 0; off < len(b); {
		idLen := vintLen(b[off])
		if idLen == 0 || idLen > 4 || off+idLen >= len(b) {
			break
		}
		id := b[off : off+idLen]
		sizeLen := vintLen(b[off+idLen])
		if sizeLen == 0 || off+idLen+sizeLen > len(b) {
			break
		}
		raw := b[off+idLen : off+idLen+sizeLen]
		size := uint64(raw[0] & (0xFF >> sizeLen))
		for _, x := range raw[1:] {
			size = size<<8 | uint64(x)
		}
		start := off + idLen + sizeLen
		if size == 1<<(7*sizeLen)-1 || size > uint64(len(b)-start) {
			break // unknown or past the end: cut here
		}
		data := b[start : start+int(size)]
		switch {
		case len(id) == 1 && id[0] == 0xE7: // Timecode
			for _, x := range data {
				c.tc = c.tc<<8 | uint64(x)
			}
			haveTC = true
		case len(id) == 1 && id[0] == 0xA3: // SimpleBlock: track, timecode, flags, frame
			if !haveTC || len(data) < 4 {
				return c
			}
			tl := vintLen(data[0])
			if tl == 0 || tl > 2 || len(data) < tl+3 {
				return c
			}
			track := uint64(data[0] & (0xFF >> tl))
			if tl == 2 {
				track = track<<8 | uint64(data[1])
			}
			if !known[track] {
				return c
			}
			rel := int16(binary.BigEndian.Uint16(data[tl:]))
			if c.blocks == 0 {
				c.first = track
			}
			c.blocks++
			if at := int64(c.tc) + int64(rel); at > c.last {
				c.last = at
			}
		}
		off = start + int(size)
		c.used = int64(off)
	}
	return c
}

// vintLen is the length of an EBML variable-length integer by its first
// byte (0: not one).
func vintLen(b byte) int {
	for n := 1; n <= 8; n++ {
		if b&(0x80>>(n-1)) != 0 {
			return n
		}
	}
	return 0
}
