package sfu

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/bits"
	"math/rand/v2"

	"github.com/pion/rtp"
)

// oggWriter writes Opus RTP packets into an Ogg file (RFC 3533, RFC 7845),
// byte for byte as pion's oggwriter.NewWith does (the same OpusHead and
// OpusTags pages, one page per packet, the granule position counted from
// the packets' own frame sizes, a random serial number), but without an
// allocation per packet: pion's makes each page, its segment table and a
// list of pages anew. This one builds each page where it goes, in the
// file's buffer (filebuf.go). TestRecordingFilesUnchanged compares its
// files with pion's.
type oggWriter struct {
	out     *bufferedFile
	closed  bool
	serial  uint32
	page    uint32 // the next page's sequence number
	granule uint64
	rev     []byte // a page with each byte's bits reversed, for the CRC
}

const (
	oggPreSkip      = 3840 // samples; what pion writes (RFC 7845 recommends 80 ms)
	oggVendor       = "pion"
	oggBOS          = 0x02 // a page's header type: beginning of stream
	oggMaxSegments  = 255
	oggNoGranule    = ^uint64(0)
	opusMaxSamples  = 48000 * 120 / 1000 // 120 ms, the most an Opus packet holds
	oggSerialOffset = 14
)

var (
	errOggClosed      = errors.New("sfu: ogg writer closed")
	errOggChannels    = errors.New("sfu: ogg: one or two channels")
	errOpusPacketSize = errors.New("sfu: ogg: not an Opus packet (RFC 6716 3.1)")
)

// newOggWriter writes the file's two header pages. w is the recording's
// bufferedFile; any other writer gets one of its own.
func newOggWriter(w io.Writer, sampleRate uint32, channels uint16) (*oggWriter, error) {
	if channels != 1 && channels != 2 {
		return nil, errOggChannels
	}
	out, ok := w.(*bufferedFile)
	if !ok {
		out = newBufferedFile(w, fileBuffer)
	}
	o := &oggWriter{out: out, serial: rand.Uint32()}
	// OpusHead (RFC 7845 5.1): version 1, the channels, the pre-skip, the
	// input rate, no gain, mapping family 0.
	var head [19]byte
	copy(head[:], "OpusHead")
	head[8], head[9] = 1, byte(channels)
	binary.LittleEndian.PutUint16(head[10:], oggPreSkip)
	binary.LittleEndian.PutUint32(head[12:], sampleRate)
	// OpusTags (5.2): the vendor, no comments.
	var tags [8 + 4 + len(oggVendor) + 4]byte
	copy(tags[:], "OpusTags")
	binary.LittleEndian.PutUint32(tags[8:], uint32(len(oggVendor)))
	copy(tags[12:], oggVendor)
	if err := o.writePage(head[:], oggBOS, 0); err != nil {
		return nil, err
	}
	if err := o.writePage(tags[:], 0, 0); err != nil {
		return nil, err
	}
	if !ok {
		if err := out.Flush(); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WriteRTP writes a packet's Opus payload as a page; an empty payload is
// left out, one that is not Opus is an error.
func (o *oggWriter) WriteRTP(p *rtp.Packet) error {
	if o.closed {
		return errOggClosed
	}
	if len(p.Payload) == 0 {
		return nil
	}
	n, err := opusSamples(p.Payload)
	if err != nil {
		return err
	}
	o.granule += n
	return o.writePage(p.Payload, 0, o.granule)
}

// writePage writes one packet as a page, or as several if it takes more
// than a page's 255 segments (never, for a packet of an RTP stream: 255
// segments hold 65 KB): each page but the last continues the packet and
// has no granule position.
func (o *oggWriter) writePage(packet []byte, kind byte, granule uint64) error {
	first := true
	for {
		segments, size, complete := 0, 0, false
		for rest := len(packet); segments < oggMaxSegments; segments++ {
			if rest < 255 {
				segments, size, complete = segments+1, size+rest, true
				break
			}
			size, rest = size+255, rest-255
		}
		b, err := o.out.grow(oggPageHeader + segments + size)
		if err != nil {
			return err
		}
		flags, gp := kind, oggNoGranule
		if !first {
			flags = 0x01 // continues a packet
		}
		if complete {
			gp = granule
		}
		copy(b, "OggS")
		b[4], b[5] = 0, flags
		binary.LittleEndian.PutUint64(b[6:], gp)
		binary.LittleEndian.PutUint32(b[oggSerialOffset:], o.serial)
		binary.LittleEndian.PutUint32(b[18:], o.page)
		binary.LittleEndian.PutUint32(b[22:], 0)
		b[26] = byte(segments)
		table := b[oggPageHeader : oggPageHeader+segments]
		for i := range table {
			table[i] = 255
		}
		if complete {
			table[segments-1] = byte(size - 255*(segments-1))
		}
		copy(b[oggPageHeader+segments:], packet[:size])
		binary.LittleEndian.PutUint32(b[22:], o.crc(b))
		o.out.finish()
		o.page++
		packet, first = packet[size:], false
		if complete {
			return nil
		}
	}
}

// crc is an Ogg page's checksum (RFC 3533 6): the CRC-32 of polynomial
// 0x04c11db7, most significant bit first, from 0, with no final XOR.
// hash/crc32 computes the same polynomial's CRC least significant bit
// first (its IEEE table is 0x04c11db7 reflected), and the one is the other
// of the input with each byte's bits reversed, the result reversed; so
// the page is reflected byte by byte into a scratch buffer, reused, and
// the CRC taken with crc32.Update from 0 (its complement going in) and no
// final XOR (its complement coming out).
func (o *oggWriter) crc(page []byte) uint32 {
	if cap(o.rev) < len(page) {
		o.rev = make([]byte, len(page))
	}
	rev := o.rev[:len(page)]
	// Eight bytes at a time: all 64 bits reversed, then the bytes put
	// back in their order.
	n := len(page) &^ 7
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(rev[i:], bits.ReverseBytes64(bits.Reverse64(binary.LittleEndian.Uint64(page[i:]))))
	}
	for i := n; i < len(page); i++ {
		rev[i] = bits.Reverse8(page[i])
	}
	return bits.Reverse32(^crc32.Update(^uint32(0), crc32.IEEETable, rev))
}

// opusSamples is how many 48 kHz samples an Opus packet holds, from its
// TOC byte and, for code 3, its frame count (RFC 6716 3.1, 3.2.5).
func opusSamples(p []byte) (uint64, error) {
	toc := p[0]
	frames := uint64(1)
	switch toc & 0x03 {
	case 1, 2:
		frames = 2
	case 3:
		if len(p) < 2 || p[1]&0x3f == 0 {
			return 0, errOpusPacketSize
		}
		frames = uint64(p[1] & 0x3f)
	}
	var per uint64 // samples per frame, by the TOC's configuration
	switch config := toc >> 3; {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		per = [4]uint64{480, 960, 1920, 2880}[config%4]
	case config < 16: // hybrid: 10, 20 ms
		per = [2]uint64{480, 960}[config%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		per = [4]uint64{120, 240, 480, 960}[config%4]
	}
	if per*frames > opusMaxSamples {
		return 0, errOpusPacketSize
	}
	return per * frames, nil
}

// Close closes the file; pion's writer, given a plain io.Writer, marks no
// last page either.
func (o *oggWriter) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	return o.out.Close()
}
