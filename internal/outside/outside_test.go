package outside

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	var f Faults
	ctx := context.Background()
	if err := f.Before(ctx); err != nil {
		t.Fatalf("zero Faults failed: %v", err)
	}
	f.SetFailEvery(3)
	var got []bool
	for i := 0; i < 6; i++ {
		got = append(got, f.Before(ctx) != nil)
	}
	if want := []bool{false, false, true, false, false, true}; !equal(got, want) {
		t.Fatalf("every 3rd call: %v", got)
	}
	f.SetFailEvery(0)
	f.SetDown(true)
	if err := f.Before(ctx); !errors.Is(err, ErrDown) {
		t.Fatalf("down: %v", err)
	}
	f.SetDown(false)
	f.SetLatency(time.Hour)
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.Before(done); !errors.Is(err, ErrDown) {
		t.Fatalf("latency past the deadline: %v", err)
	}
	if f.Repeat() {
		t.Fatal("repeat on by default")
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Authorized(r, "tok") {
			WriteError(w, http.StatusUnauthorized, "unauthorized", "")
			return
		}
		switch r.URL.Path {
		case "/ok":
			var in map[string]string
			if err := DecodeJSON(r, &in); err != nil {
				WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
				return
			}
			WriteJSON(w, http.StatusOK, map[string]string{"echo": in["x"]})
		case "/refused":
			WriteError(w, http.StatusUnprocessableEntity, "unreadable", "no")
		case "/broken":
			w.WriteHeader(http.StatusBadGateway)
		case "/garbage":
			_, _ = w.Write([]byte("<html>"))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := &Client{BaseURL: srv.URL, Token: "tok"}
	var out map[string]string
	if err := c.Do(ctx, http.MethodPost, "/ok", "", map[string]string{"x": "y"}, &out); err != nil || out["echo"] != "y" {
		t.Fatalf("ok: %v %v", out, err)
	}
	var se *StatusError
	if err := c.Do(ctx, http.MethodPost, "/ok", "", map[string]int{"unknown": 1}, nil); !errors.As(err, &se) || se.Code != "bad_request" {
		t.Fatalf("unknown field: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/refused", "", nil, nil); !errors.As(err, &se) || se.Status != 422 || se.Code != "unreadable" {
		t.Fatalf("refused: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/broken", "", nil, nil); !errors.Is(err, ErrDown) {
		t.Fatalf("5xx: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/garbage", "", nil, &out); err == nil || errors.Is(err, ErrDown) {
		t.Fatalf("garbage: %v", err)
	}
	bad := &Client{BaseURL: srv.URL, Token: "nope"}
	if err := bad.Do(ctx, http.MethodGet, "/ok", "", nil, nil); !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("wrong token: %v", err)
	}
	srv.Close()
	if err := c.Do(ctx, http.MethodGet, "/ok", "", nil, nil); !errors.Is(err, ErrDown) {
		t.Fatalf("gone: %v", err)
	}
}

// TestErrorCodesRoundTrip: what a stand-in writes through its table, the
// adapter reads back through the same table as the same error; the rest is
// unavailable, and a request without the token never reaches the handler.
func TestErrorCodesRoundTrip(t *testing.T) {
	errBad, errGone, errDown := errors.New("bad"), errors.New("gone"), errors.New("down")
	table := ErrorCodes{
		{Err: errBad, Status: http.StatusBadRequest, Code: "bad"},
		{Err: errGone, Status: http.StatusNotFound, Code: "gone"},
	}
	var answer error
	srv := httptest.NewServer(RequireToken("tok", func(w http.ResponseWriter, r *http.Request) {
		table.Write(w, answer)
	}))
	defer srv.Close()
	c := Client{BaseURL: srv.URL, Token: "tok"}
	for _, tc := range []struct {
		answer error
		want   error
	}{
		{fmt.Errorf("wrapped: %w", errBad), errBad},
		{errGone, errGone},
		{errors.New("something else"), errDown},
	} {
		answer = tc.answer
		err := table.Map(c.Do(context.Background(), http.MethodGet, "/", "", nil, nil), errDown)
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: mapped to %v, want %v", tc.answer, err, tc.want)
		}
	}
	answer = errBad
	err := (&Client{BaseURL: srv.URL}).Do(context.Background(), http.MethodGet, "/", "", nil, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || se.Code != "unauthorized" {
		t.Fatalf("without the token: %v, want 401 unauthorized", err)
	}
}
