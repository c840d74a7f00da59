package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
)

// cmdCheck scans the whole event log: every sstable block through pebble's
// checksums, every stream's hash chain and head, and every stream against
// the signed checkpoints. It prints one line per problem, naming the stream
// (act/<id>) and the file, and exits 1 if there is any.
func cmdCheck(args []string) error {
	fs := flag.NewFlagSet("senim check", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: senim check   (reads data_dir/eventlog read-only; stop the server first)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return &exitError{code: 2}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	l, err := openLogWith(cfg, true)
	if err != nil {
		return err
	}
	defer l.Close()
	n := 0
	report := func(p eventlog.Problem) {
		n++
		fmt.Println(p.String())
	}
	if err := l.Check(report); err != nil {
		return err
	}
	ts, _, err := openTrust(cfg, time.Now())
	if err != nil {
		return err
	}
	cps, err := checkpoint.Check(l, ts, checkpoint.VerifyOptions{BIN: checkpointBIN(cfg)}, report)
	if err != nil {
		return err
	}
	streams := 0
	_ = l.Streams("", func(string) error { streams++; return nil })
	if n > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d problems in %s", n, cfg.DataDir)}
	}
	anchored := "no checkpoint yet"
	if cps != nil && cps.Latest.Number > 0 {
		anchored = fmt.Sprintf("checkpoint %d of %s matches", cps.Latest.Number, cps.Latest.At.Format(time.RFC3339))
	}
	fmt.Fprintf(os.Stdout, "the event log is sound: %d streams, every block's checksum and every chain verified, %s\n", streams, anchored)
	return nil
}

// checkpointBIN is the BIN of the configured checkpoint key, when it can
// be read without making one: checkpoints signed by anyone else are
// refused. "" lets any organisation's certificate through (the report
// names the signer).
func checkpointBIN(cfg config.Config) string {
	p12, pw := cfg.Checkpoint.P12, cfg.Checkpoint.PasswordFile
	if p12 == "" {
		p12, pw = checkpoint.DevKeyFiles(cfg.DataDir)
	}
	k, err := checkpoint.LoadKey(p12, pw)
	if err != nil {
		return ""
	}
	sub, err := pki.SubjectOf(k.Certificate)
	if err != nil {
		return ""
	}
	return sub.BIN.String()
}
