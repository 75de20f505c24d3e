package compat_test

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/internal/casetest"
)

// TestCases builds every case of testdata/ with gcc or g++ and checks that
// the report holds exactly the findings the case wants, and the exit code.
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
			oldSO, newSO, err := c.Build(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			r, err := compat.Check(oldSO, newSO, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := casetest.Compare(c.Want, slices.Collect(r.Findings())); diff != "" {
				t.Errorf("%s: findings differ (-missing +unexpected):\n%s\nreport:\n%s", path, diff, text(r))
			}
			if got := r.Verdict.ExitCode(); got != c.Exit {
				t.Errorf("%s: exit code = %d, want %d", path, got, c.Exit)
			}
		})
	}
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
