package sms

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/internal/outside"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newDev(keep int) (*Dev, *bytes.Buffer) {
	var buf bytes.Buffer
	return NewDev(zerolog.New(&buf), keep, func() time.Time { return t0 }), &buf
}

func TestDevKeepsAndLogsMessages(t *testing.T) {
	d, log := newDev(10)
	ctx := context.Background()
	id, err := d.Send(ctx, "8 701 234 56 78", "Код: 480917")
	if err != nil || id == "" {
		t.Fatalf("send: %q %v", id, err)
	}
	if _, err := d.Send(ctx, "+77019998877", "другому"); err != nil {
		t.Fatal(err)
	}
	got := d.Messages("+7 701 234 56 78")
	if len(got) != 1 || got[0].Phone != "+77012345678" || got[0].Text != "Код: 480917" || got[0].ID != id || !got[0].At.Equal(t0) {
		t.Fatalf("messages %+v", got)
	}
	if len(d.Messages("")) != 2 {
		t.Fatalf("all messages: %d", len(d.Messages("")))
	}
	if !strings.Contains(log.String(), "480917") {
		t.Fatal("the development log does not show the code")
	}
}

func TestDevRefusesBadInput(t *testing.T) {
	d, _ := newDev(10)
	ctx := context.Background()
	for _, c := range []struct {
		phone, text string
		want        error
	}{
		{"+7 495 123 45 67", "x", ErrBadPhone},
		{"1414", "x", ErrBadPhone},
		{"+77012345678", "", ErrBadText},
		{"+77012345678", strings.Repeat("я", MaxText+1), ErrBadText},
	} {
		if _, err := d.Send(ctx, c.phone, c.text); !errors.Is(err, c.want) {
			t.Errorf("%q %d chars: %v, want %v", c.phone, len(c.text), err, c.want)
		}
	}
	if len(d.Messages("")) != 0 {
		t.Fatal("a refused message was kept")
	}
}

func TestDevFailures(t *testing.T) {
	d, _ := newDev(3)
	ctx := context.Background()
	d.SetDown(true)
	if _, err := d.Send(ctx, "+77012345678", "x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("down: %v", err)
	}
	d.SetDown(false)
	d.SetFailEvery(2)
	_, err1 := d.Send(ctx, "+77012345678", "1")
	_, err2 := d.Send(ctx, "+77012345678", "2")
	if err1 != nil || !errors.Is(err2, ErrUnavailable) {
		t.Fatalf("flaky: %v %v", err1, err2)
	}
	d.SetFailEvery(0)
	d.SetLatency(time.Hour)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Send(cancelled, "+77012345678", "x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("latency past the deadline: %v", err)
	}
	d.SetLatency(0)
	d.SetRepeat(true)
	if _, err := d.Send(ctx, "+77012345678", "twice"); err != nil {
		t.Fatal(err)
	}
	msgs := d.Messages("")
	if len(msgs) != 3 || msgs[1].Text != "twice" || msgs[2].Text != "twice" || msgs[0].Text != "1" {
		t.Fatalf("repeat and keep bound: %+v", msgs)
	}
}

func TestHTTPAdapterAgainstTheStandIn(t *testing.T) {
	d, _ := newDev(10)
	srv := httptest.NewServer(d.Handler("secret"))
	defer srv.Close()
	ctx := context.Background()

	h := &HTTP{Client: outside.Client{BaseURL: srv.URL, Token: "secret"}}
	id, err := h.Send(ctx, "+7 701 234 56 78", "Код: 111222")
	if err != nil || id == "" {
		t.Fatalf("send: %q %v", id, err)
	}
	if m := d.Messages("+77012345678"); len(m) != 1 || m[0].ID != id {
		t.Fatalf("gateway got %+v", m)
	}
	if _, err := h.Send(ctx, "+7 495 123 45 67", "x"); !errors.Is(err, ErrBadPhone) {
		t.Fatalf("bad phone: %v", err)
	}
	d.SetDown(true)
	if _, err := h.Send(ctx, "+77012345678", "x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("gateway down: %v", err)
	}
	d.SetDown(false)
	wrong := &HTTP{Client: outside.Client{BaseURL: srv.URL, Token: "wrong"}}
	if _, err := wrong.Send(ctx, "+77012345678", "x"); !errors.Is(err, ErrUnavailable) || len(d.Messages("")) != 1 {
		t.Fatalf("wrong token: %v, %d messages", err, len(d.Messages("")))
	}
	srv.Close()
	if _, err := h.Send(ctx, "+77012345678", "x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("gateway gone: %v", err)
	}
}
