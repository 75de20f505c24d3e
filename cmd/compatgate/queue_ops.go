//go:build unix

package main

import (
	"context"
	"fmt"

	"github.com/compatgate/compatgate/gate/queue"
)

func runQueueApprove(e env) int {
	return runQueueDecision(e, "approve", "queue approve [--restarted] [--note TEXT] [--state-dir DIR | --config FILE] [--format text|json] ID",
		"approved: it runs in its window", func(restarted bool) decision {
			if restarted {
				return (*queue.Queue).ConfirmRestarted
			}
			return (*queue.Queue).Approve
		})
}

func runQueueDone(e env) int {
	return runQueueDecision(e, "done", "queue done [--note TEXT] [--state-dir DIR | --config FILE] [--format text|json] ID",
		"closed: its targets were restarted by hand", nil)
}

// decision is an operator's decision about one entry.
type decision func(*queue.Queue, context.Context, int64, string) error

// runQueueDecision runs an operator's decision about one entry: approve
// (pick, given --restarted, chooses it) or, with a nil pick, done. The
// operator is recorded in the audit log.
func runQueueDecision(e env, name, synopsis, said string, pick func(restarted bool) decision) int {
	cmd := "queue " + name
	fs := newFlagSet(e, cmd, synopsis)
	sf := addStateFlags(fs)
	note := fs.String("note", "", "a note for the audit log")
	decide := decision((*queue.Queue).MarkDone)
	var restarted *bool
	if pick != nil {
		restarted = fs.Bool("restarted", false, "the entry is held because a restart is in doubt, and you checked that the target did restart: take it as done, do not run it again")
	}
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	id, ok := entryID(e, cmd, args)
	if !ok || !sf.check(e, cmd) {
		return exitUsage
	}
	if pick != nil {
		decide = pick(*restarted)
	}
	q, e, err := sf.openExisting(e)
	if err != nil {
		return reportErr(e, cmd, err)
	}
	defer q.Close()
	if err := decide(q, e.ctx, id, *note); err != nil {
		return reportErr(e, cmd, err)
	}
	en, err := q.Get(e.ctx, id)
	if err != nil {
		return reportErr(e, cmd, err)
	}
	if sf.format == "json" {
		return reportErr(e, cmd, writeJSON(e.stdout, en))
	}
	fmt.Fprintf(e.stdout, "entry %d %s\n", id, said)
	return exitOK
}
