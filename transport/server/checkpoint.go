package server

import (
	"errors"
	"time"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/devca"
)

// CheckpointKey loads the key that signs the event log's checkpoints: the
// configured PKCS#12, or with the development CA on and none configured,
// the development key under data_dir/checkpoint (issued on first use). It
// refuses a key whose signature the trust store would not accept from an
// organisation, so that a misconfiguration shows at start, not at the first
// audit.
func CheckpointKey(cfg config.Config, ca *devca.CA, ts *pki.TrustStore, now time.Time) (*pki.Key, error) {
	var k *pki.Key
	var err error
	switch {
	case cfg.Checkpoint.P12 != "":
		k, err = checkpoint.LoadKey(cfg.Checkpoint.P12, cfg.Checkpoint.PasswordFile)
	case ca != nil:
		k, err = checkpoint.DevKey(ca, checkpoint.DevKeyDir(cfg.DataDir), now)
	default:
		return nil, errors.New("checkpoint: with pki.dev_ca = false, set checkpoint.p12 and checkpoint.password_file (the organisation's signing key)")
	}
	if err != nil {
		return nil, err
	}
	if err := checkpoint.CheckKey(k, ts); err != nil {
		return nil, err
	}
	return k, nil
}
