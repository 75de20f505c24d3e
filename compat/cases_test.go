package compat_test

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
			if diff := compareFindings(c.Want, r.Changes); diff != "" {
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

// compareFindings matches each wanted finding with one of the report's and
// returns a description of what is missing and what is unexpected, in the
// want syntax, or "" when they match exactly.
func compareFindings(want []casetest.Want, got []compat.Finding) string {
	used := make([]bool, len(got))
	var missing, unexpected []string
	for _, w := range want {
		i := 0
		for i < len(got) && (used[i] || !matches(w, got[i])) {
			i++
		}
		if i == len(got) {
			missing = append(missing, w.String())
			continue
		}
		used[i] = true
	}
	for i, f := range got {
		if !used[i] {
			unexpected = append(unexpected, asWant(f).String())
		}
	}
	if len(missing) == 0 && len(unexpected) == 0 {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(unexpected)
	return cmp.Diff(missing, unexpected)
}

func matches(w casetest.Want, f compat.Finding) bool {
	g := asWant(f)
	if w.Rule != g.Rule || w.Severity != g.Severity || w.Symbol != g.Symbol || w.Type != g.Type {
		return false
	}
	if w.HasWhere && w.Where != g.Where {
		return false
	}
	if w.HasAffected && !slices.Equal(w.Affected, g.Affected) {
		return false
	}
	return true
}

func asWant(f compat.Finding) casetest.Want {
	aff := slices.Clone(f.Affected)
	slices.Sort(aff)
	return casetest.Want{Rule: f.Rule, Severity: f.Severity.String(), Symbol: f.Symbol, Type: f.Type,
		Where: f.Where, HasWhere: f.Where != "", Affected: aff, HasAffected: f.Type != ""}
}

func text(r *compat.Report) string {
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		return fmt.Sprint("rendering report: ", err)
	}
	return b.String()
}
