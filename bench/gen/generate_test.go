package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/compatgate/compatgate/compat"
	"github.com/compatgate/compatgate/internal/casetest"
)

// TestGroundTruth builds the generated library at the smallest sizes and
// checks that compatgate finds exactly the ground-truth changes, and that
// they do not depend on the size.
func TestGroundTruth(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	for _, modules := range []int{minModules, minModules + 3} {
		dir := t.TempDir()
		path := filepath.Join(dir, "gen.txtar")
		if err := os.WriteFile(path, txtar.Format(generate(modules)), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := casetest.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		oldSO, newSO, err := c.Build(dir)
		if err != nil {
			t.Fatal(err)
		}
		r, err := compat.Check(oldSO, newSO, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := casetest.Compare(c.Want, r.Changes); diff != "" {
			t.Errorf("%d modules: findings differ from the ground truth (-missing +unexpected):\n%s", modules, diff)
		}
		if got := r.Verdict.ExitCode(); got != c.Exit {
			t.Errorf("%d modules: exit %d, want %d", modules, got, c.Exit)
		}
	}
}
