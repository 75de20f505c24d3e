// Command killsoak kills compatgate with SIGKILL at random points of apply
// and revert, many times, against a 4-thread target, and checks after each
// kill that the target runs on (not stopped, not traced, every thread on
// one version with right results, no EINTR), that OLD's text holds only
// its own bytes or journaled words (no stray int3), and that status tells
// the truth or revert completes an interrupted operation.
//
// It runs the test TestKillDuringApplyRevert of cmd/compatgate with the
// number of kills raised (CI runs 10):
//
//	go run ./bench/killsoak [-kills 50]
//
// as root, from the repository root. It exits with the test's status.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
)

func main() {
	kills := flag.Int("kills", 50, "number of SIGKILLs")
	flag.Parse()
	cmd := exec.Command("go", "test", "-count=1", "-v", "-timeout=30m",
		"-run", "^TestKillDuringApplyRevert$", "./cmd/compatgate")
	cmd.Env = append(os.Environ(), "COMPATGATE_KILLS="+strconv.Itoa(*kills))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "killsoak: %v\n", err)
		os.Exit(1)
	}
}
