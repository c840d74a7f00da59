package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// cmdReplay prints an act's timeline from the event log: who, when, what;
// with --at N, the act's state after event N. The same replay rebuilds acts
// when the server starts.
func cmdReplay(args []string) error {
	fs := flag.NewFlagSet("senim replay", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	at := fs.Uint64("at", 0, "print the state after event N instead of the timeline")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: senim replay [--at N] ACT-ID | issuance/APPLICATION-ID   (reads data_dir/eventlog; stop the server first)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{code: 2}
	}
	actID := fs.Arg(0)
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if app, ok := strings.CutPrefix(actID, applicationPrefix); ok {
		return replayApplication(cfg, app, *at)
	}
	l, err := openLog(cfg)
	if err != nil {
		return err
	}
	defer l.Close()
	recs, err := l.ReadAll("act/" + actID)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return &exitError{code: 1, msg: "no act " + actID + " in " + cfg.DataDir}
	}
	var state act.State
	for _, r := range recs {
		e, err := act.DecodeEvent(r.Type, r.Payload)
		if err != nil {
			return fmt.Errorf("seq %d: %w", r.Seq, err)
		}
		state = act.Apply(state, e)
		if *at == 0 {
			fmt.Printf("#%-3d %s  %-24s %-22s %s\n", r.Seq, r.At.UTC().Format(time.RFC3339), r.Actor, r.Type, act.Describe(e))
		} else if r.Seq == *at {
			break
		}
	}
	if *at > uint64(len(recs)) {
		return &exitError{code: 2, msg: fmt.Sprintf("the act has %d events", len(recs))}
	}
	if *at > 0 {
		printState(state)
		return nil
	}
	chain := "intact"
	var ce *eventlog.ChainError
	if err := l.VerifyChain("act/" + actID); errors.As(err, &ce) {
		chain = "BROKEN at seq " + fmt.Sprint(ce.Seq) + ": " + ce.Reason
	} else if err != nil {
		return err
	}
	fmt.Printf("\n%d events, phase %s, hash chain %s, head %s\n", len(recs), state.Phase, chain, recs[len(recs)-1].Hash)
	if chain != "intact" {
		return &exitError{code: 1, msg: "the act's hash chain is broken"}
	}
	return nil
}

// printState prints the state without the CMS blobs.
func printState(s act.State) {
	strip := func(sig *act.Signature) {
		if sig != nil {
			sig.CMS = nil
		}
	}
	s.Application.CMS = nil
	strip(s.Consent)
	strip(s.ApprovalSig)
	strip(s.NotarySig)
	b, _ := json.MarshalIndent(s, "", "  ")
	fmt.Println(string(b))
}

// replayApplication is cmdReplay for an application of remote EDS
// issuance (stream issuance/<id>): its timeline, or its state after event at.
func replayApplication(cfg config.Config, appID string, at uint64) error {
	if !issuance.ValidApplicationID(appID) {
		return &exitError{code: 2, msg: "not an application id: " + appID}
	}
	stream := applicationPrefix + appID
	l, err := openLog(cfg)
	if err != nil {
		return err
	}
	defer l.Close()
	recs, err := l.ReadAll(stream)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return &exitError{code: 1, msg: "no application " + appID + " in " + cfg.DataDir}
	}
	if at > uint64(len(recs)) {
		return &exitError{code: 2, msg: fmt.Sprintf("the application has %d events", len(recs))}
	}
	var state issuance.State
	for _, r := range recs {
		e, err := issuance.DecodeEvent(r.Type, r.Payload)
		if err != nil {
			return fmt.Errorf("seq %d: %w", r.Seq, err)
		}
		state = issuance.Apply(state, e)
		if at == 0 {
			fmt.Printf("#%-3d %s  %-24s %-22s %s\n", r.Seq, r.At.UTC().Format(time.RFC3339), r.Actor, r.Type, brief(r.Payload))
		} else if r.Seq == at {
			break
		}
	}
	if at > 0 {
		state.Code = nil // the outstanding code's keyed hash stays out of print
		for i := range state.Certificates {
			state.Certificates[i].DER = nil
		}
		b, _ := json.MarshalIndent(state, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	chain := "intact"
	var ce *eventlog.ChainError
	if err := l.VerifyChain(stream); errors.As(err, &ce) {
		chain = "BROKEN at seq " + fmt.Sprint(ce.Seq) + ": " + ce.Reason
	} else if err != nil {
		return err
	}
	fmt.Printf("\n%d events, phase %s, status %s, hash chain %s, head %s\n", len(recs), state.Phase, state.Status(), chain, recs[len(recs)-1].Hash)
	if chain != "intact" {
		return &exitError{code: 1, msg: "the application's hash chain is broken"}
	}
	return nil
}

// brief is an event's payload on one line, cut short.
func brief(payload []byte) string {
	s := string(payload)
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100]) + "…"
	}
	return s
}
