package server

import (
	"fmt"
	"path/filepath"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/digidocs"
)

// DigidocsPath is where the Digital documents stand-in keeps each
// person's documents under a data directory.
func DigidocsPath(dataDir string) string { return filepath.Join(dataDir, "digidocs") }

// openDigidocs opens the adapter digidocs.mode names: the stand-in in dev
// mode, the service's HTTP API otherwise.
func (s *Server) openDigidocs(cfg config.Config) error {
	d := cfg.Digidocs
	if d.Mode != "http" {
		sim, err := digidocs.OpenSim(DigidocsPath(cfg.DataDir))
		if err != nil {
			return err
		}
		s.Digidocs, s.DigidocsSim = sim, sim
		return nil
	}
	key, err := readSecretFile(d.APIKeyFile, 1)
	if err != nil {
		return fmt.Errorf("digidocs.api_key_file: %w", err)
	}
	h, err := digidocs.NewHTTP(d.URL, string(key), d.Timeout.Std())
	if err != nil {
		return err
	}
	s.Digidocs = h
	return nil
}
