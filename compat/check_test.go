package compat_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/compat"
)

// TestCheckDebugDirs checks that Options.DebugDirs reaches the loader:
// with the separate debug files found by build-id the types are checked
// (and the changed parameter found), without them the report says types
// were not checked.
func TestCheckDebugDirs(t *testing.T) {
	for _, tool := range []string{"gcc", "objcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	debugDir := filepath.Join(dir, "debug")
	build := func(name, src string) string {
		c := filepath.Join(dir, name+".c")
		so := filepath.Join(dir, name+".so")
		if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("gcc", "-shared", "-fPIC", "-g", "-Wl,--build-id", "-o", so, c).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		splitDebug(t, so, debugDir)
		return so
	}
	oldSO := build("v1", "int api(int x) { return x; }\n")
	newSO := build("v2", "int api(double x) { return x; }\n")

	r, err := compat.Check(oldSO, newSO, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Types not compared: never compatible (issue 18).
	if r.TypesChecked || r.Verdict != compat.Review || len(r.Notes) == 0 || !slices.Equal(r.DebugMissing, []string{"old", "new"}) {
		t.Errorf("without debug dirs: types_checked=%v verdict=%s notes=%q debug_missing=%q; want unchecked, review, a note, old and new",
			r.TypesChecked, r.Verdict, r.Notes, r.DebugMissing)
	}
	r, err = compat.CheckWith(oldSO, newSO, compat.Options{DebugDirs: []string{debugDir}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.TypesChecked || r.Verdict != compat.Incompatible {
		t.Fatalf("with debug dirs: types_checked=%v verdict=%s; want checked, incompatible", r.TypesChecked, r.Verdict)
	}
	if !strings.HasPrefix(r.Old.DebugInfo, debugDir) {
		t.Errorf("old debug_info = %q, want a file under %s", r.Old.DebugInfo, debugDir)
	}
	found := false
	for f := range r.Findings() {
		found = found || (f.Rule == "param-type-changed" && f.Symbol == "api" && f.Where == "parameter 1 (x)")
	}
	if !found {
		t.Errorf("param-type-changed on api not reported: %+v", slices.Collect(r.Findings()))
	}
}
