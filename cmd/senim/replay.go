package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/senim-kz/senim/domain/act"
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
		fmt.Fprintln(fs.Output(), "usage: senim replay [--at N] ACT-ID   (reads data_dir/eventlog; stop the server first)")
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
