package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/evidence"
	"github.com/senim-kz/senim/internal/safepath"
	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// openLog opens the event log of cfg for the offline tools; the server must
// be stopped (pebble locks its directory).
func openLog(cfg config.Config) (*eventlog.Log, error) { return openLogWith(cfg, false) }

// openLogWith opens the log, read-only if asked. pebble's own messages go
// to stderr: an error inside the store is printed, never swallowed.
func openLogWith(cfg config.Config, readOnly bool) (*eventlog.Log, error) {
	l, err := eventlog.Open(filepath.Join(cfg.DataDir, "eventlog"), eventlog.Options{Logger: newLogger(cfg.Log, os.Stderr), ReadOnly: readOnly})
	if err != nil && strings.Contains(err.Error(), "lock") {
		return nil, &exitError{code: 1, msg: "the event log is in use: stop `senim serve` on " + cfg.DataDir + " first"}
	}
	return l, err
}

// applicationPrefix names an application's stream (remote EDS issuance)
// where the tools take an act id.
const applicationPrefix = "issuance/"

// buildEvidence makes the package of an act, or of an application when id
// is issuance/<application-id>.
func buildEvidence(cfg config.Config, id string) ([]byte, error) {
	if app, ok := strings.CutPrefix(id, applicationPrefix); ok {
		return buildApplicationEvidence(cfg, app)
	}
	return buildActEvidence(cfg, id)
}

// buildApplicationEvidence makes an application's package, with the latest
// signed checkpoint that covers it.
func buildApplicationEvidence(cfg config.Config, appID string) ([]byte, error) {
	if !issuance.ValidApplicationID(appID) {
		return nil, &exitError{code: 2, msg: "not an application id: " + appID}
	}
	l, err := openLog(cfg)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	stream := applicationPrefix + appID
	recs, err := l.ReadAll(stream)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, &exitError{code: 1, msg: "no application " + appID}
	}
	cps, err := checkpoint.Load(l)
	if err != nil {
		return nil, err
	}
	var more []evidence.File
	if p, cms, ok := checkpoint.ProofFor(cps, stream); ok {
		more = evidence.CheckpointFiles(p, cms)
	}
	return evidence.BuildApplication(recs, more...)
}

func buildActEvidence(cfg config.Config, actID string) ([]byte, error) {
	l, err := openLog(cfg)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	recs, err := l.ReadAll("act/" + actID)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, &exitError{code: 1, msg: "no act " + actID}
	}
	// The latest signed checkpoint that covers the act goes with it.
	cps, err := checkpoint.Load(l)
	if err != nil {
		return nil, err
	}
	var more []evidence.File
	if p, cms, ok := checkpoint.ProofFor(cps, "act/"+actID); ok {
		more = evidence.CheckpointFiles(p, cms)
	}
	return evidence.Build(recs, cfg.Document.Place, cfg.Document.PublicURL, more...)
}

// cmdExport writes an act's evidence package.
func cmdExport(args []string) error {
	fs := flag.NewFlagSet("senim export", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	out := fs.String("out", "", "the ZIP to write (default: <act-id>.zip, issuance-<application-id>.zip)")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, msg: "usage: senim export [--out FILE] ACT-ID | issuance/APPLICATION-ID"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	zip, err := buildEvidence(cfg, fs.Arg(0))
	if err != nil {
		return err
	}
	if *out == "" {
		// The act id becomes a file name here: only a plain one.
		name := strings.Replace(fs.Arg(0), applicationPrefix, "issuance-", 1) + ".zip"
		if err := safepath.Check(name); err != nil {
			return &exitError{code: 2, msg: "the act id is not a plain file name; name the package with --out"}
		}
		*out = name
	}
	if err := os.WriteFile(*out, zip, 0o644); err != nil {
		return err
	}
	fmt.Printf("evidence package written: %s (%d bytes)\n", *out, len(zip))
	return nil
}

// cmdVerify checks an evidence package, or the act behind a document code
// in the local log, and prints pass or fail per item.
func cmdVerify(args []string) error {
	fs := flag.NewFlagSet("senim verify", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	recordings := fs.String("recordings", "", "also check the call recordings' files, in this directory (the server's data/recordings/ACT)")
	stored := fs.String("files", "", "an application's package: also check its stored files (uploads, requests, call recordings) in this directory (the server's data/issuance/APPLICATION)")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, msg: "usage: senim verify [--recordings DIR | --files DIR] EVIDENCE.zip | DOCUMENT-CODE | issuance/APPLICATION-ID"}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	ts, _, err := openTrust(cfg, time.Now())
	if err != nil {
		return err
	}
	arg := fs.Arg(0)
	var zip []byte
	if strings.HasSuffix(strings.ToLower(arg), ".zip") {
		if zip, err = os.ReadFile(arg); err != nil {
			return err
		}
	} else if strings.HasPrefix(arg, applicationPrefix) {
		if zip, err = buildEvidence(cfg, arg); err != nil {
			return err
		}
	} else {
		l, err := openLog(cfg)
		if err != nil {
			return err
		}
		streams, err := l.Lookup("code", arg)
		l.Close()
		if err != nil {
			return err
		}
		if len(streams) == 0 {
			return &exitError{code: 1, msg: "no document has the code " + arg}
		}
		if zip, err = buildEvidence(cfg, strings.TrimPrefix(streams[0], "act/")); err != nil {
			return err
		}
	}
	items, err := evidence.VerifyAny(zip, ts)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if *stored != "" {
		if evidence.FormatOf(zip) != evidence.FormatApplication {
			return &exitError{code: 2, msg: "--files is for an application's package; an act's recordings: --recordings"}
		}
		more, err := evidence.VerifyApplicationFiles(zip, *stored)
		if err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		items = append(items, more...)
	}
	if *recordings != "" {
		if evidence.FormatOf(zip) == evidence.FormatApplication {
			return &exitError{code: 2, msg: "--recordings is for an act's package; an application's files: --files"}
		}
		more, err := evidence.VerifyRecordings(zip, *recordings)
		if err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		items = append(items, more...)
	}
	for _, it := range items {
		mark := "pass"
		if !it.OK {
			mark = "FAIL"
		}
		fmt.Printf("%s  %-46s %s\n", mark, it.Name, it.Note)
	}
	if !evidence.Passed(items) {
		return &exitError{code: 1, msg: "the evidence does not verify"}
	}
	fmt.Println("all checks passed")
	return nil
}
