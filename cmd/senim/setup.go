package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
	"github.com/senim-kz/senim/transport/server"
)

// loadConfig reads the configuration named by --config, SENIM_CONFIG or
// ./config.toml, with SENIM_* overrides.
func loadConfig(path string) (config.Config, error) {
	return config.Load(config.FileFromEnv(path), os.Environ())
}

func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "config file (default: $SENIM_CONFIG, else ./config.toml if present, else built-in defaults)")
}

// newLogger builds the process logger: human-readable on a terminal, JSON
// otherwise, unless log.format says which.
func newLogger(c config.Log, w *os.File) zerolog.Logger {
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	var out io.Writer = w
	if c.Format == "console" || (c.Format == "auto" && isatty.IsTerminal(w.Fd())) {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger()
}

func devCADir(c config.Config) string { return filepath.Join(c.DataDir, "devca") }

// openTrust builds the trust store the way the server does.
func openTrust(c config.Config, now time.Time) (*pki.TrustStore, *devca.CA, error) {
	return server.OpenTrust(c, now)
}

// openDevCA opens the development CA, refusing when config turned it off.
func openDevCA(c config.Config) (*devca.CA, error) {
	if !c.PKI.DevCA {
		return nil, fmt.Errorf("the development CA is off (pki.dev_ca = false)")
	}
	return devca.Open(devCADir(c), time.Now())
}
