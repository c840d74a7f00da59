// Package testserver starts an in-process Senim server for tests, on the
// defaults with loopback ports chosen by the system, so that every test
// that needs a running server starts it the same way. Only tests import it:
// it depends on transport/server, so transport/server's own tests use it
// from package server_test.
package testserver

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/transport/server"
)

// Config is the default configuration with data in dataDir, HTTP and TURN
// on 127.0.0.1:0, and mods applied in order.
func Config(dataDir string, mods ...func(*config.Config)) config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TURN.Addr = "127.0.0.1:0"
	for _, m := range mods {
		m(&cfg)
	}
	return cfg
}

// Run starts a server on cfg and opts that logs to log, and closes it when
// the test ends.
func Run(t testing.TB, cfg config.Config, log zerolog.Logger, opts server.Options) *server.Server {
	t.Helper()
	srv, err := server.New(cfg, log, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Bounded, so that a server that fails to stop fails its test
		// instead of hanging the package.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return srv
}

// Start runs a silent server on Config(dataDir, mods...) for the test.
func Start(t testing.TB, dataDir string, mods ...func(*config.Config)) *server.Server {
	t.Helper()
	return Run(t, Config(dataDir, mods...), zerolog.Nop(), server.Options{})
}

// Validated is a mod that fails the test if the configuration, as changed
// by the mods before it, does not pass config.Validate.
func Validated(t testing.TB) func(*config.Config) {
	return func(cfg *config.Config) {
		t.Helper()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	}
}
