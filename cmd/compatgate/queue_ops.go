//go:build unix

package main

import (
	"context"
	"fmt"

	"github.com/compatgate/compatgate/gate/queue"
)

func runQueueApprove(e env) int {
	return runQueueDecision(e, "approve", "queue approve [--note TEXT] [--state-dir DIR | --config FILE] [--format text|json] ID",
		"approved: it is installed and its targets restarted in its window", (*queue.Queue).Approve)
}

func runQueueDone(e env) int {
	return runQueueDecision(e, "done", "queue done [--note TEXT] [--state-dir DIR | --config FILE] [--format text|json] ID",
		"closed: its targets were restarted by hand", (*queue.Queue).MarkDone)
}

// runQueueDecision runs an operator's decision about one entry: approve or
// done. The operator is recorded in the audit log.
func runQueueDecision(e env, name, synopsis, said string, decide func(*queue.Queue, context.Context, int64, string) error) int {
	cmd := "queue " + name
	fs := newFlagSet(e, cmd, synopsis)
	sf := addStateFlags(fs)
	note := fs.String("note", "", "a note for the audit log")
	args, code, ok := parseArgs(e, fs)
	if !ok {
		return code
	}
	id, ok := entryID(e, cmd, args)
	if !ok || !sf.check(e, cmd) {
		return exitUsage
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
