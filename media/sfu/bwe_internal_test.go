package sfu

import (
	"testing"
	"time"
)

// The video of a subscriber whose downlink recovered comes back on a try
// while the estimate is still under the floor (audio alone lets GCC show
// 1.5 times the audio at most, and it climbs 8% a second from there): the
// try holds while the estimate climbs, and fails when GCC backs off.
func TestVideoPauseTriesHoldWhileTheEstimateClimbs(t *testing.T) {
	const below, above, audio = 150_000, 250_000, 36_000
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var v videoPause
	if got := v.step(120_000, audio, at(0), below, above); got != pauseVideo || !v.weak {
		t.Fatalf("under the floor: %d, weak %v", got, v.weak)
	}
	if got := v.step(54_000, audio, at(1), below, above); got != pauseSame {
		t.Fatalf("a try before the back-off ended: %d", got)
	}
	if got := v.step(54_000, audio, at(float64(probeBackoff/time.Second)), below, above); got != resumeVideo || v.weak {
		t.Fatalf("at the audio's ceiling after the back-off: %d, weak %v", got, v.weak)
	}
	// A clean downlink: the estimate climbs 8% a second, for as long as it
	// takes to reach the floor (14 s from 54 kbit/s to 150).
	est, s := 54_000.0, float64(probeBackoff/time.Second)
	for est < below {
		s += 0.5
		est *= 1.039
		if got := v.step(int64(est), audio, at(s), below, above); got != pauseSame || v.weak {
			t.Fatalf("at %.1f s, the estimate climbing at %.0f: %d, weak %v", s, est, got, v.weak)
		}
	}
	if v.try.on {
		t.Fatal("the try still open at the floor")
	}
	// Later, a real drop under the floor pauses it again, the back-off as
	// it was at first: the last try held.
	s += 60
	if got := v.step(100_000, audio, at(s), below, above); got != pauseVideo || v.backoff != probeBackoff {
		t.Fatalf("a drop a minute later: %d, back-off %s", got, v.backoff)
	}
	// A try on a link that is still weak: GCC backs off (delay or loss),
	// the video pauses again and the next try waits twice as long.
	s += float64(probeBackoff / time.Second)
	if got := v.step(54_000, audio, at(s), below, above); got != resumeVideo {
		t.Fatalf("the next try: %d", got)
	}
	s += 0.5
	if got := v.step(58_000, audio, at(s), below, above); got != pauseSame {
		t.Fatalf("the estimate climbing on the try: %d", got)
	}
	s += 0.5
	if got := v.step(45_000, audio, at(s), below, above); got != pauseVideo || v.backoff != 2*probeBackoff {
		t.Fatalf("GCC backed off on the try: %d, back-off %s", got, v.backoff)
	}
	// A try whose estimate neither backs off nor reaches the floor (a
	// REMB that stays where it is) ends after probeMax.
	s += float64(2 * probeBackoff / time.Second)
	if got := v.step(60_000, audio, at(s), below, above); got != resumeVideo {
		t.Fatalf("the third try: %d", got)
	}
	if got := v.step(60_000, audio, at(s+float64(probeMax/time.Second)-1), below, above); got != pauseSame {
		t.Fatalf("a flat estimate within probeMax: %d", got)
	}
	if got := v.step(60_000, audio, at(s+float64(probeMax/time.Second)+1), below, above); got != pauseVideo {
		t.Fatalf("a flat estimate after probeMax: %d", got)
	}
	// A try that starts on a passing jump of the estimate (seen on a busy
	// box: 30 kbit/s, then 134, then 112 and climbing) is judged from where
	// the estimate sat before the jump: it holds.
	s += float64(probeMax/time.Second) + 2
	var j videoPause
	j.step(120_000, audio, at(s), below, above) // paused
	s += float64(probeBackoff / time.Second)
	j.step(30_000, audio, at(s), below, above)
	if got := j.step(134_000, audio, at(s+0.5), below, above); got != resumeVideo {
		t.Fatalf("a try on a jump: %d", got)
	}
	if got := j.step(112_000, audio, at(s+1), below, above); got != pauseSame || j.weak {
		t.Fatalf("the estimate back from the jump, above where it sat: %d, weak %v", got, j.weak)
	}
	// Above resumeAbove the video comes back at once, no try needed.
	if got := v.step(260_000, audio, at(s+float64(probeMax/time.Second)+2), below, above); got != resumeVideo || v.try.on {
		t.Fatalf("above resumeAbove: %d, probing %v", got, v.try.on)
	}
}
