package evidence

import (
	"bufio"
	"errors"
	"fmt"
	"os"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// WebMCodec is the codec a recording file names when it is the call's
// WebM (all its tracks in one file).
const WebMCodec = "video/webm"

// WebMSummary is what CheckWebM read in a WebM file.
type WebMSummary struct {
	Tracks     int
	Video      int
	Audio      int
	Frames     int64
	DurationMS int64 // as the file's Info says
	LastMS     int64 // the last frame's time
}

// webmStream reads a WebM a cluster at a time: only one is held in memory.
type webmStream struct {
	Header  webm.EBMLHeader `ebml:"EBML"`
	Segment struct {
		Info    webm.Info         `ebml:"Info"`
		Tracks  webm.Tracks       `ebml:"Tracks"`
		Cluster chan webm.Cluster `ebml:"Cluster"`
	} `ebml:"Segment"`
}

// CheckWebM parses a WebM file whole: the EBML header says webm, there are
// tracks, every frame belongs to one of them, and no frame lies past the
// duration the file states.
func CheckWebM(path string) (WebMSummary, error) {
	var s WebMSummary
	f, err := os.Open(path)
	if err != nil {
		return s, err
	}
	defer f.Close()
	var w webmStream
	clusters := make(chan webm.Cluster)
	w.Segment.Cluster = clusters
	type result struct {
		frames int64
		last   int64
		tracks map[uint64]bool
	}
	done := make(chan result)
	go func() {
		r := result{tracks: map[uint64]bool{}, last: -1}
		for c := range clusters {
			for _, b := range c.SimpleBlock {
				r.frames++
				r.tracks[b.TrackNumber] = true
				if at := int64(c.Timecode) + int64(b.Timecode); at > r.last {
					r.last = at
				}
			}
		}
		done <- r
	}()
	err = ebml.Unmarshal(bufio.NewReaderSize(f, 64<<10), &w, ebml.WithMaxLeafElementSize(64<<20))
	close(clusters)
	r := <-done
	if err != nil {
		return s, fmt.Errorf("not a whole WebM: %w", err)
	}
	if w.Header.DocType != "webm" {
		return s, fmt.Errorf("not a WebM (doc type %q)", w.Header.DocType)
	}
	declared := map[uint64]bool{}
	for _, t := range w.Segment.Tracks.TrackEntry {
		declared[t.TrackNumber] = true
		switch t.CodecID {
		case "V_VP8", "V_VP9", "V_AV1":
			s.Video++
		case "A_OPUS", "A_VORBIS":
			s.Audio++
		}
	}
	s.Tracks, s.Frames, s.LastMS = len(declared), r.frames, r.last
	scale := w.Segment.Info.TimecodeScale
	if scale == 0 {
		scale = 1000000
	}
	s.DurationMS = int64(w.Segment.Info.Duration * float64(scale) / 1e6)
	switch {
	case s.Tracks == 0:
		return s, errors.New("a WebM without tracks")
	case s.Frames == 0:
		return s, errors.New("a WebM without frames")
	case scale != 1000000:
		return s, fmt.Errorf("timecode scale %d, not 1 ms", scale)
	case s.DurationMS > 0 && s.LastMS > s.DurationMS+1000:
		return s, fmt.Errorf("a frame at %d ms, past its duration %d ms", s.LastMS, s.DurationMS)
	}
	for n := range r.tracks {
		if !declared[n] {
			return s, fmt.Errorf("frames of track %d, which it does not declare", n)
		}
	}
	return s, nil
}
