package main

import (
	"fmt"

	"github.com/compatgate/compatgate/gate/inject"
)

func runRevert(e env) int {
	fs := newFlagSet(e, "revert", "revert --pid PID[,PID...] [--parallel N] [--format text|json] [--state-dir DIR] OLD")
	f := addInjectFlags(fs)
	if code, ok := parseFlags(e, fs); !ok {
		return code
	}
	pids, code, ok := f.parse(e, "revert")
	if !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(e.stderr, "compatgate revert: want one library, OLD; got %d argument(s)\n", fs.NArg())
		fs.Usage()
		return exitUsage
	}
	opt := inject.Options{StateDir: *f.stateDir}
	results := forEachPID(pids, *f.parallel, func(pid int) inject.Result {
		return inject.Revert(e.ctx, pid, fs.Arg(0), opt)
	})
	return writeInjectResults(e, "revert", *f.format, results)
}
