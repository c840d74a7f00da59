package faceid

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/senim-kz/senim/internal/outside"
	"github.com/senim-kz/senim/internal/outside/outsidetest"
)

const person = "871008401427"

// file is a fake JPEG with the marker somewhere in its middle, as a test
// image would carry it in a comment segment.
func file(marker string) []byte {
	b := append([]byte{0xff, 0xd8, 0xff, 0xfe}, bytes.Repeat([]byte{0x11}, 4096)...)
	b = append(b, marker...)
	return append(b, 0xff, 0xd9)
}

func checkers(t *testing.T) map[string]outsidetest.Adapter[Checker, *Dev] {
	return outsidetest.Both(t, &Dev{}, &Dev{}, func(c outside.Client) Checker { return &HTTP{Client: c} })
}

func TestMarkersForceEachOutcome(t *testing.T) {
	ctx := context.Background()
	for name, a := range checkers(t) {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				marker      string
				live, match bool
			}{
				{MarkerMatch, true, true},
				{MarkerMismatch, true, false},
				{MarkerNoLive, false, true},
				{"", true, true},
			} {
				l, err := a.Port.Liveness(ctx, bytes.NewReader(file(c.marker)))
				if err != nil || l.Live != c.live {
					t.Errorf("%q: liveness %+v %v, want live=%v", c.marker, l, err, c.live)
				}
				m, err := a.Port.Match(ctx, person, bytes.NewReader(file(c.marker)))
				if err != nil || m.Match != c.match {
					t.Errorf("%q: match %+v %v, want match=%v", c.marker, m, err, c.match)
				}
			}
		})
	}
}

func TestRefusalsAndFailures(t *testing.T) {
	ctx := context.Background()
	for name, a := range checkers(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := a.Port.Match(ctx, "871008401428", bytes.NewReader(file(""))); !errors.Is(err, ErrBadIIN) {
				t.Errorf("bad IIN: %v", err)
			}
			if _, err := a.Port.Liveness(ctx, bytes.NewReader(nil)); !errors.Is(err, ErrBadInput) {
				t.Errorf("empty video: %v", err)
			}
			a.Dev.SetDown(true)
			if _, err := a.Port.Liveness(ctx, bytes.NewReader(file(""))); !errors.Is(err, ErrUnavailable) {
				t.Errorf("down: %v", err)
			}
			if _, err := a.Port.Match(ctx, person, bytes.NewReader(file(""))); !errors.Is(err, ErrUnavailable) {
				t.Errorf("down: %v", err)
			}
			a.Dev.SetDown(false)
			a.Dev.SetFailEvery(2)
			_, err1 := a.Port.Match(ctx, person, bytes.NewReader(file("")))
			_, err2 := a.Port.Match(ctx, person, bytes.NewReader(file("")))
			if err1 != nil || !errors.Is(err2, ErrUnavailable) {
				t.Errorf("flaky: %v %v", err1, err2)
			}
		})
	}
}

func TestTooLargeIsRefusedBeforeTheService(t *testing.T) {
	d := &Dev{}
	d.SetDown(true) // a refusal of the input must not depend on the service
	big := bytes.NewReader(make([]byte, MaxInput+1))
	if _, err := d.Liveness(context.Background(), big); !errors.Is(err, ErrBadInput) {
		t.Fatalf("too large: %v", err)
	}
}

func TestLatencyPastTheDeadline(t *testing.T) {
	d := &Dev{}
	d.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Liveness(ctx, bytes.NewReader(file(""))); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("slow service: %v", err)
	}
}
