//go:build unix

package main

import (
	"fmt"
	"log/slog"

	"github.com/compatgate/compatgate/gate"
	"github.com/compatgate/compatgate/gate/inject"
)

func runRollback(e env) int {
	fs := newFlagSet(e, "rollback", "rollback [--state-dir DIR] [--format text|json] LIBRARY")
	sf := addStateFlags(fs)
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	if len(args) != 1 {
		fmt.Fprintf(e.stderr, "compatgate rollback: want one LIBRARY; got %d argument(s)\n", len(args))
		return exitUsage
	}
	if !sf.check(e, "rollback") {
		return exitUsage
	}
	q, e, err := sf.open(e)
	if err != nil {
		return reportErr(e, "rollback", err)
	}
	defer q.Close()
	u := &gate.Upgrader{Queue: q, Engine: gate.InjectEngine{Options: inject.Options{StateDir: sf.dir}},
		Logger: slog.New(slog.DiscardHandler)}
	out, err := u.Rollback(e.ctx, args[0])
	if err != nil {
		return reportErr(e, "rollback", err)
	}
	if sf.format == "json" {
		if err := writeJSON(e.stdout, out); err != nil {
			return reportErr(e, "rollback", err)
		}
	} else {
		fmt.Fprintf(e.stdout, "library     %s\n", clean(out.Library))
		fmt.Fprintf(e.stdout, "from        build-id %s\n", orDash(out.From.BuildID))
		fmt.Fprintf(e.stdout, "to          build-id %s\n", orDash(out.To.BuildID))
		if out.Restored {
			fmt.Fprintf(e.stdout, "file        reinstalled from %s\n", clean(gate.PrevPath(out.Library)))
		} else {
			fmt.Fprintf(e.stdout, "file        already the previous build\n")
		}
		writeProcesses(e.stdout, out.Processes)
		for _, pid := range out.Restarted {
			fmt.Fprintf(e.stdout, "restart     process %d: it was restarted onto the rolled-back build\n", pid)
		}
		for _, id := range out.Cancelled {
			fmt.Fprintf(e.stdout, "cancelled   queue entry %d\n", id)
		}
		fmt.Fprintf(e.stdout, "status      %s\n", out.Status)
	}
	if out.Status.Success() {
		return exitOK
	}
	return exitError
}
