package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/internal/casetest"
)

// TestGroundTruth builds the generated library at the smallest sizes and
// checks that compatgate finds exactly the ground-truth changes, and that
// they do not depend on the size.
func TestGroundTruth(t *testing.T) {
	for _, modules := range []int{minModules, minModules + 3} {
		c, oldSO, newSO := buildCase(t, modules)
		checkGroundTruth(t, fmt.Sprintf("%d modules", modules), c, oldSO, newSO)
	}
}

// checkGroundTruth checks a built case: compatgate must find exactly the
// want file's changes and exit as the case says.
func checkGroundTruth(t *testing.T, label string, c *casetest.Case, oldSO, newSO string) {
	t.Helper()
	r, err := compat.Check(oldSO, newSO, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := casetest.Compare(c.Want, slices.Collect(r.Findings())); diff != "" {
		t.Errorf("%s: findings differ from the ground truth (-missing +unexpected):\n%s", label, diff)
	}
	if got := r.Verdict.ExitCode(); got != c.Exit {
		t.Errorf("%s: exit %d, want %d", label, got, c.Exit)
	}
}

// benchModules is the size of the pair the benchmarks check: about 0.65
// MiB of DWARF per version, built by gcc in some 10 s per benchmark.
const benchModules = 200

// buildCase generates the library pair of the given size as a case, and
// builds it.
func buildCase(tb testing.TB, modules int) (c *casetest.Case, oldSO, newSO string) {
	tb.Helper()
	return buildArchive(tb, generate(modules))
}

// buildArchive writes a generated case and builds it.
func buildArchive(tb testing.TB, ar *txtar.Archive) (c *casetest.Case, oldSO, newSO string) {
	tb.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		tb.Skip("gcc not installed")
	}
	dir := tb.TempDir()
	path := filepath.Join(dir, "gen.txtar")
	if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
		tb.Fatal(err)
	}
	c, err := casetest.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	oldSO, newSO, err = c.Build(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return c, oldSO, newSO
}

// buildPair generates and builds the library pair of the given size.
func buildPair(tb testing.TB, modules int) (oldSO, newSO string) {
	_, oldSO, newSO = buildCase(tb, modules)
	return oldSO, newSO
}

// BenchmarkLoad reads the new version of the synthetic library: ELF
// symbols and DWARF. Its bytes per operation are the library's size.
func BenchmarkLoad(b *testing.B) {
	_, newSO := buildPair(b, benchModules)
	if fi, err := os.Stat(newSO); err == nil {
		b.SetBytes(fi.Size())
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := elfdiff.Load(newSO); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiff compares the two loaded versions of the synthetic library.
func BenchmarkDiff(b *testing.B) {
	oldSO, newSO := buildPair(b, benchModules)
	old, err := elfdiff.Load(oldSO)
	if err != nil {
		b.Fatal(err)
	}
	new, err := elfdiff.Load(newSO)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := elfdiff.Diff(old, new); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck is the whole check of the synthetic pair, as the check
// command runs it: load both, compare, judge.
func BenchmarkCheck(b *testing.B) {
	oldSO, newSO := buildPair(b, benchModules)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compat.Check(oldSO, newSO, nil); err != nil {
			b.Fatal(err)
		}
	}
}
