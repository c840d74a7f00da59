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
// does, but without an allocation per frame: pion's writer grows a new
// slice for every frame it puts together and makes each frame's header,
// which was more than half of what the server allocated while recording a
// call (and the collector's work with it). This one keeps one frame buffer
// and one header, reused. TestRecordingThroughTheRingIsExact compares the
// two writers' files.
type ivfWriter struct {
	w     io.Writer
	count uint64
	first uint32 // RTP timestamp of the packets before the first frame
	keyed bool   // a keyframe was seen: frames may be written
	inner bool   // a frame is being put together
	frame []byte
	head  [12]byte
	vp8   codecs.VP8Packet
}

const (
	ivfFileHeader = 32
	ivfFrameCount = 24 // offset of the frame count in the file header
)

var errIVFClosed = errors.New("sfu: ivf writer closed")

func newIVFWriter(w io.Writer) (*ivfWriter, error) {
	var h [ivfFileHeader]byte
	copy(h[0:], "DKIF")
	binary.LittleEndian.PutUint16(h[6:], ivfFileHeader)
	copy(h[8:], "VP80")
	binary.LittleEndian.PutUint16(h[12:], 640)
	binary.LittleEndian.PutUint16(h[14:], 480)
	binary.LittleEndian.PutUint32(h[16:], 30) // timebase denominator
	binary.LittleEndian.PutUint32(h[20:], 1)  // numerator
	binary.LittleEndian.PutUint32(h[ivfFrameCount:], 900)
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &ivfWriter{w: w}, nil
}

// WriteRTP adds a packet to the frame being put together, and writes the
// frame at its last packet (the marker). Packets before the first
// keyframe, and the rest of a frame whose start was not seen, are left
// out.
func (i *ivfWriter) WriteRTP(p *rtp.Packet) error {
	if i.w == nil {
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
	key := i.vp8.Payload[0]&0x01 == 0
	switch {
	case !i.keyed && !key:
		return nil
	case !i.inner && i.vp8.S != 1:
		return nil
	}
	i.keyed, i.inner = true, true
	i.frame = append(i.frame, i.vp8.Payload...)
	if !p.Marker {
		return nil
	}
	binary.LittleEndian.PutUint32(i.head[0:], uint32(len(i.frame)))
	binary.LittleEndian.PutUint64(i.head[4:], ms/30) // pts in the 1/30 timebase
	i.count++
	frame := i.frame
	i.frame, i.inner = i.frame[:0], false
	if _, err := i.w.Write(i.head[:]); err != nil {
		return err
	}
	_, err := i.w.Write(frame)
	return err
}

// Close writes the frame count into the file's header, if the file can
// seek, and closes it.
func (i *ivfWriter) Close() error {
	if i.w == nil {
		return nil
	}
	w := i.w
	i.w = nil
	if ws, ok := w.(io.WriteSeeker); ok {
		if _, err := ws.Seek(ivfFrameCount, io.SeekStart); err != nil {
			return err
		}
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(i.count))
		if _, err := ws.Write(n[:]); err != nil {
			return err
		}
	}
	if c, ok := w.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
