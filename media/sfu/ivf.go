package sfu

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// ivfWriter writes VP8 RTP packets into an IVF file, byte for byte as
// pion's ivfwriter (VP8, its default 640×480 header and 1/30 timebase)
// does, but cheaper: pion's writer grows a new slice for every frame it
// puts together and makes each frame's header. This one copies each
// packet's payload once, straight into the file's buffer (filebuf.go),
// after the frame's 12 header bytes, which it fills in at the frame's last
// packet, when the frame's size is known: no frame buffer of its own, no
// copy of the whole frame, no allocation. TestIVFWriterIsPions and
// TestRecordingFilesUnchanged compare its files with pion's.
//
// The call's WebM takes its VP8 frames from here rather than putting them
// together a second time (webm.go): after each WriteRTP, took, at and gen
// say where the packet's payload went, and frame gives a frame's bytes.
type ivfWriter struct {
	out    *bufferedFile
	closed bool
	count  uint64
	first  uint32 // RTP timestamp of the packets before the first frame
	keyed  bool   // a keyframe was seen: frames may be written
	inner  bool   // a frame is being put together
	vp8    codecs.VP8Packet

	// Of the last packet written: took, its payload went into frame gen
	// (one more for each frame begun) at offset at of the frame's
	// payload; ended, it was the frame's last and the frame is finished.
	took, ended bool
	at          int
	gen         uint64
	last        []byte // the frame ended, while ended
}

const (
	ivfFileHeader = 32
	ivfFrameCount = 24 // offset of the frame count in the file header
)

var errIVFClosed = errors.New("sfu: ivf writer closed")

// newIVFWriter writes the IVF file's header. w is the recording's
// bufferedFile; any other writer gets one of its own.
func newIVFWriter(w io.Writer) (*ivfWriter, error) {
	out, ok := w.(*bufferedFile)
	if !ok {
		out = newBufferedFile(w, fileBuffer)
	}
	var h [ivfFileHeader]byte
	copy(h[0:], "DKIF")
	binary.LittleEndian.PutUint16(h[6:], ivfFileHeader)
	copy(h[8:], "VP80")
	binary.LittleEndian.PutUint16(h[12:], 640)
	binary.LittleEndian.PutUint16(h[14:], 480)
	binary.LittleEndian.PutUint32(h[16:], 30) // timebase denominator
	binary.LittleEndian.PutUint32(h[20:], 1)  // numerator
	binary.LittleEndian.PutUint32(h[ivfFrameCount:], 900)
	if _, err := out.Write(h[:]); err != nil {
		return nil, err
	}
	if !ok {
		if err := out.Flush(); err != nil {
			return nil, err
		}
	}
	return &ivfWriter{out: out}, nil
}

// WriteRTP adds a packet to the frame being put together, and finishes
// the frame at its last packet (the marker). Packets before the first
// keyframe, the rest of a frame whose start was not seen, and a frame
// past maxVP8Frame bytes (pion's writer grows it without bound) are left
// out.
func (i *ivfWriter) WriteRTP(p *rtp.Packet) error {
	i.took, i.ended, i.last = false, false, nil
	if i.closed {
		return errIVFClosed
	}
	if len(p.Payload) == 0 {
		return nil
	}
	if i.count == 0 {
		i.first = p.Timestamp
	}
	ms := 1000 * uint64(p.Timestamp-i.first) / 90000
	if _, err := i.vp8.Unmarshal(p.Payload); err != nil {
		return err
	}
	if len(i.vp8.Payload) == 0 {
		// A descriptor and nothing after it: no bytes for the file. Left
		// out like an empty payload (pion's writer, and this one before,
		// read past the end: a publisher could crash the server).
		return nil
	}
	key := i.vp8.Payload[0]&0x01 == 0
	switch {
	case !i.keyed && !key:
		return nil
	case !i.inner && i.vp8.S != 1:
		return nil
	}
	if !i.inner { // the frame's header, filled in at its end
		if _, err := i.out.grow(ivfFrameHeader); err != nil {
			return err
		}
		i.gen++
	}
	if len(i.out.open())-ivfFrameHeader+len(i.vp8.Payload) > maxVP8Frame {
		// A frame larger than any VP8 encoder makes (a publisher that
		// never sets the marker): dropped, as the WebM drops it, rather
		// than held in memory until the recording's budget runs out.
		i.out.abandon()
		i.inner = false
		return nil
	}
	i.keyed, i.inner = true, true
	i.at = len(i.out.open()) - ivfFrameHeader
	if err := i.out.add(i.vp8.Payload); err != nil {
		return err
	}
	i.took = true
	if !p.Marker {
		return nil
	}
	f := i.out.open()
	binary.LittleEndian.PutUint32(f[0:], uint32(len(f)-ivfFrameHeader))
	binary.LittleEndian.PutUint64(f[4:], ms/30) // pts in the 1/30 timebase
	i.count++
	i.inner = false
	i.out.finish()
	i.ended, i.last = true, f[ivfFrameHeader:]
	return nil
}

// frame is the payload of frame gen, if it is the one being put together
// or the one the last packet ended; valid until the next WriteRTP.
func (i *ivfWriter) frame(gen uint64) ([]byte, bool) {
	switch {
	case gen != i.gen:
		return nil, false
	case i.inner:
		return i.out.open()[ivfFrameHeader:], true
	case i.ended:
		return i.last, true
	}
	return nil, false
}

// Close writes the frame count into the file's header, if the file can
// seek, and closes it. An unfinished frame is left out.
func (i *ivfWriter) Close() error {
	if i.closed {
		return nil
	}
	i.closed = true
	i.out.abandon()
	if _, ok := i.out.w.(io.Seeker); ok {
		if _, err := i.out.Seek(ivfFrameCount, io.SeekStart); err != nil {
			return err
		}
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(i.count))
		if _, err := i.out.Write(n[:]); err != nil {
			return err
		}
	}
	return i.out.Close()
}
