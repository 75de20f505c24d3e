// Command crosscheck runs abidiff (libabigail) and compatgate over every
// test case of testdata/ and prints their verdicts side by side with the
// verdict the case expects, marking where they disagree.
//
// Usage (from the repository root):
//
//	go run ./bench/crosscheck [-testdata DIR] [-abidiff PATH] [-only SUBSTRING]
//
// abidiff comes with Debian's abigail-tools package. Its exit status is a
// bit mask like compatgate's: 4 means the ABI changed, 8 (so 12) that it
// changed incompatibly; 1 and 2 are errors.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/internal/casetest"
)

func main() {
	testdata := flag.String("testdata", "testdata", "directory of txtar cases")
	abidiff := flag.String("abidiff", "abidiff", "the abidiff binary")
	only := flag.String("only", "", "run only cases whose path contains this")
	verbose := flag.Bool("v", false, "print abidiff's report of each disagreement")
	flag.Parse()
	if err := run(*testdata, *abidiff, *only, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "crosscheck:", err)
		os.Exit(1)
	}
}

// A row is the outcome of one case.
type row struct {
	name                string
	want, got, abi      string
	abiExit             int
	agreeWant, agreeAbi bool
	abiReport           string
}

func run(testdata, abidiff, only string, verbose bool) error {
	if _, err := exec.LookPath(abidiff); err != nil {
		return fmt.Errorf("%s not found (apt-get install abigail-tools): %w", abidiff, err)
	}
	paths, err := casetest.Glob(testdata)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "crosscheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var rows []row
	for _, p := range paths {
		if only != "" && !strings.Contains(p, only) {
			continue
		}
		c, err := casetest.Load(p)
		if err != nil {
			return err
		}
		dir := filepath.Join(tmp, strings.ReplaceAll(strings.TrimPrefix(p, testdata+"/"), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		oldSO, newSO, err := c.Build(dir)
		if err != nil {
			return err
		}
		h1, h2 := c.HeaderDirs(dir)
		r, err := compat.CheckWith(oldSO, newSO, compat.Options{HeaderDirs1: h1, HeaderDirs2: h2})
		if err != nil {
			return fmt.Errorf("%s: compatgate: %w", p, err)
		}
		code, report := abidiffRun(abidiff, dir, oldSO, newSO, h1, h2)
		name := strings.TrimSuffix(strings.TrimPrefix(p, testdata+"/"), ".txtar")
		rw := row{name: name, want: verdictOf(c.Exit), got: string(r.Verdict), abi: verdictOf(code), abiExit: code}
		if verbose {
			rw.abiReport = report
		}
		rw.agreeWant = rw.got == rw.want
		rw.agreeAbi = rw.got == rw.abi
		rows = append(rows, rw)
	}
	print(rows)
	return nil
}

// abidiffRun runs abidiff on a pair and returns its exit status and report.
// The public header directories of each side, when the case gives them,
// are passed as abidiff's --headers-dir1 and --headers-dir2.
func abidiffRun(abidiff, dir, oldSO, newSO string, h1, h2 []string) (int, string) {
	args := []string{"--d1", filepath.Dir(oldSO), "--d2", filepath.Dir(newSO)}
	for _, h := range h1 {
		args = append(args, "--headers-dir1", h)
	}
	for _, h := range h2 {
		args = append(args, "--headers-dir2", h)
	}
	cmd := exec.Command(abidiff, append(args, oldSO, newSO)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	return -1, err.Error()
}

// verdictOf names the verdict an exit status (of either tool) means.
func verdictOf(code int) string {
	switch {
	case code < 0 || code&3 != 0:
		return "error"
	case code&8 != 0:
		return string(compat.Incompatible)
	case code&4 != 0:
		return string(compat.Review)
	}
	return string(compat.Compatible)
}

func print(rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CASE\tEXPECTED\tCOMPATGATE\tABIDIFF\tABIDIFF EXIT\t")
	agree, wrong := 0, 0
	var diffs []row
	for _, r := range rows {
		mark := ""
		if !r.agreeAbi {
			mark = "≠"
			diffs = append(diffs, r)
		} else {
			agree++
		}
		if !r.agreeWant {
			mark += " (compatgate ≠ expected)"
			wrong++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", r.name, r.want, r.got, r.abi, r.abiExit, mark)
	}
	w.Flush()
	fmt.Printf("\n%d cases: compatgate and abidiff agree on %d, disagree on %d; compatgate differs from the expected verdict on %d\n",
		len(rows), agree, len(diffs), wrong)
	if len(diffs) > 0 {
		fmt.Println("\ndisagreements (compatgate vs abidiff):")
		for _, r := range diffs {
			fmt.Printf("  %-40s compatgate %-12s abidiff %s (exit %d)\n", r.name, r.got, r.abi, r.abiExit)
			if r.abiReport != "" {
				for _, l := range strings.Split(strings.TrimSpace(r.abiReport), "\n") {
					fmt.Println("      | " + l)
				}
			}
		}
	}
}
