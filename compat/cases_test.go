package compat_test

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/pubheaders"
	"github.com/compatgate/compatgate/internal/casetest"
	"github.com/compatgate/compatgate/rules"
)

// TestCases builds every case of testdata/ with gcc or g++ and checks that
// the report holds exactly the findings the case wants, and the exit code;
// and that ABI dumps of the libraries, on either side, give the same report.
func TestCases(t *testing.T) {
	paths, err := casetest.Glob("../testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no cases in ../testdata")
	}
	for _, path := range paths {
		c, err := casetest.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			requireCompiler(t, c)
			dir := t.TempDir()
			oldSO, newSO, err := c.Build(dir)
			if err != nil {
				t.Fatal(err)
			}
			h1, h2 := c.HeaderDirs(dir)
			r, err := compat.CheckWith(oldSO, newSO, compat.Options{HeaderDirs1: h1, HeaderDirs2: h2})
			if err != nil {
				t.Fatal(err)
			}
			if diff := casetest.Compare(c.Want, slices.Collect(r.Findings())); diff != "" {
				t.Errorf("%s: findings differ (-missing +unexpected):\n%s\nreport:\n%s", path, diff, text(r))
			}
			if got := r.Verdict.ExitCode(); got != c.Exit {
				t.Errorf("%s: exit code = %d, want %d", path, got, c.Exit)
			}
			// Check loads small libraries at the same time; big ones are
			// loaded one after the other, the second sharing the first's
			// names. Both ways must find the same; and so must Check's
			// consuming diff and checkSharing's elfdiff.Diff.
			if diff := cmp.Diff(slices.Collect(r.Findings()), slices.Collect(checkSharing(t, oldSO, newSO, h1, h2).Findings())); diff != "" {
				t.Errorf("%s: findings with shared names differ (-separate +shared):\n%s", path, diff)
			}
			// An ABI dump in place of either library changes nothing.
			checkDumps(t, oldSO, newSO, h1, h2, r)
		})
	}
}

// checkSharing checks two libraries as Check does for big ones: NEW is
// loaded after OLD, with OLD's names.
func checkSharing(t *testing.T, oldSO, newSO string, h1, h2 []string) *compat.Report {
	t.Helper()
	old, err := elfdiff.Load(oldSO)
	if err != nil {
		t.Fatal(err)
	}
	new, err := elfdiff.LoadWith(newSO, elfdiff.LoadOptions{ShareNames: old})
	if err != nil {
		t.Fatal(err)
	}
	if old.Headers, err = pubheaders.FromFlags(h1, nil, "--headers-dir1"); err != nil {
		t.Fatal(err)
	}
	if new.Headers, err = pubheaders.FromFlags(h2, nil, "--headers-dir2"); err != nil {
		t.Fatal(err)
	}
	changes, err := elfdiff.Diff(old, new)
	if err != nil {
		t.Fatal(err)
	}
	return compat.Judge(old, new, changes, rules.Default())
}

func requireCompiler(t *testing.T, c *casetest.Case) {
	t.Helper()
	for _, cc := range []string{"gcc", "g++"} {
		if _, err := exec.LookPath(cc); err != nil {
			t.Skipf("%s not installed: %v", cc, err)
		}
	}
}

func text(r *compat.Report) string {
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		return fmt.Sprint("rendering report: ", err)
	}
	return b.String()
}
