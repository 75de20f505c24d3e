package main

import (
	"fmt"

	"github.com/compatgate/compatgate/gate/inject"
)

// statusReport is the JSON output of status (schema 1).
type statusReport struct {
	Schema    int                   `json:"schema"`
	Command   string                `json:"command"`
	Status    inject.Status         `json:"status"`
	Processes []inject.ProcessState `json:"processes"`
}

func runStatus(e env) int {
	fs := newFlagSet(e, "status", "status --pid PID[,PID...] [--format text|json] [--state-dir DIR]")
	f := addInjectFlags(fs)
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	pids, code, ok := f.parse(e, "status")
	if !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "compatgate status: unexpected arguments\n")
		return exitUsage
	}
	opt := inject.Options{StateDir: *f.stateDir}
	rep := statusReport{Schema: 1, Command: "status", Status: inject.StatusOK}
	worst := []inject.Result{}
	for _, pid := range pids {
		ps := inject.Query(pid, opt)
		rep.Processes = append(rep.Processes, ps)
		worst = append(worst, inject.Result{Status: ps.Status})
	}
	rep.Status = inject.Worst(worst)
	var err error
	if *f.format == "json" {
		err = writeJSON(e.stdout, rep)
	} else {
		for _, ps := range rep.Processes {
			if len(ps.Applied) == 0 {
				fmt.Fprintf(e.stdout, "PID %-8d %-12s %s\n", ps.PID, ps.Status, ps.Reason)
				continue
			}
			for _, a := range ps.Applied {
				intact := "intact"
				if !a.Intact {
					intact = "NOT intact"
				}
				fmt.Fprintf(e.stdout, "PID %-8d %-12s %s (%s) -> %s (%s): %d function(s), %s, %s since %s%s\n",
					ps.PID, ps.Status, a.Old.Path, shortID(a.Old.BuildID), a.New.Path, shortID(a.New.BuildID),
					a.Functions, a.State, intact, a.Time.Format("2006-01-02 15:04:05Z"), drainNote(a))
			}
		}
		_, err = fmt.Fprintf(e.stdout, "overall: %s\n", rep.Status)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "compatgate status: writing output: %v\n", err)
		return exitError
	}
	if !rep.Status.Success() {
		return exitError
	}
	return exitOK
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// drainNote describes the drain of an upgrade applied in the drain model.
func drainNote(a inject.Applied) string {
	switch {
	case a.Draining == 0:
		return ""
	case a.Undrained == 0:
		return fmt.Sprintf("; %d thread(s) drained from OLD by %s", a.Draining, a.DrainChecked.Format("15:04:05Z"))
	}
	return fmt.Sprintf("; draining: %d of %d thread(s) still inside OLD at %s", a.Undrained, a.Draining, a.DrainChecked.Format("15:04:05Z"))
}
