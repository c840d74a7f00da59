package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/pki"
)

// cmdCheck scans the whole event log: every sstable block through pebble's
// checksums, every stream's hash chain and head, every stream against the
// signed checkpoints, and every act snapshot a load would use against a
// replay of the act. It prints one line per problem, naming the stream
// (act/<id>) and the file, and exits 1 if there is any.
func cmdCheck(args []string) error {
	fs := flag.NewFlagSet("senim check", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	drop := fs.Bool("drop-snapshots", false, "remove the act snapshots that differ from a replay (snapshot_mismatch), so that the server replays those acts from their events")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: senim check [-drop-snapshots]   (reads data_dir/eventlog, read-only without the flag; stop the server first)")
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
	l, err := openLogWith(cfg, !*drop)
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
	// Act snapshots are outside the chain and the checkpoints: each one a
	// load would use must give what a replay of the act's events gives.
	var mismatched []string
	err = l.Streams("act/", func(s string) error {
		if seq, diff := actors.CheckActSnapshot(l, strings.TrimPrefix(s, "act/")); diff != "" {
			report(eventlog.Problem{Code: problemSnapshotMismatch, Stream: s, Seq: seq, Detail: diff})
			mismatched = append(mismatched, s)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range mismatched {
		if !*drop {
			fmt.Printf("  (senim check -drop-snapshots removes the snapshot of %s)\n", s)
			continue
		}
		if err := l.DeleteSnapshot(s); err != nil {
			return err
		}
		fmt.Printf("  removed the snapshot of %s: the server will replay it from its events\n", s)
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

// problemSnapshotMismatch: an act snapshot a load would use gives another
// state than a replay of the act's events (altered on disk, or written by
// a build whose act.Apply differs without a new snapshot format).
const problemSnapshotMismatch = "snapshot_mismatch"

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
