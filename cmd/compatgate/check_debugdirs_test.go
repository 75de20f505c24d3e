package main

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/elfdiff/elfsym"
)

// splitDebug moves the DWARF of lib into root/.build-id/xx/rest.debug.
func splitDebug(t *testing.T, lib, root string) {
	t.Helper()
	f, err := elf.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	id := elfsym.BuildID(f)
	f.Close()
	if len(id) < 4 {
		t.Fatalf("%s has no build-id", lib)
	}
	dbg := filepath.Join(root, ".build-id", id[:2], id[2:]+".debug")
	if err := os.MkdirAll(filepath.Dir(dbg), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--only-keep-debug", lib, dbg}, {"--strip-debug", lib}} {
		if out, err := exec.Command("objcopy", args...).CombinedOutput(); err != nil {
			t.Fatalf("objcopy %v: %v\n%s", args, err, out)
		}
	}
}

// TestCheckDebugInfoDirs checks abidiff's --debug-info-dir1 and
// --debug-info-dir2: each side's debug root is searched for that side's
// debug file only.
func TestCheckDebugInfoDirs(t *testing.T) {
	oldSO, newSO := buildCase(t, "c/struct-member-removed-middle")
	type report struct {
		Old, New struct {
			DebugInfo string `json:"debug_info"`
		}
		Changes []json.RawMessage
	}
	check := func(args ...string) report {
		t.Helper()
		_, stdout, stderr := runCLI(append(append([]string{"check", "--format", "json"}, args...), oldSO, newSO)...)
		var r report
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		return r
	}
	want := check()
	if want.Old.DebugInfo == "" || len(want.Changes) == 0 {
		t.Fatalf("the unstripped pair: %+v", want)
	}
	dir := t.TempDir()
	root1, root2 := filepath.Join(dir, "root1"), filepath.Join(dir, "root2")
	splitDebug(t, oldSO, root1)
	splitDebug(t, newSO, root2)

	got := check("--debug-info-dir1", root1, "--debug-info-dir2", root2)
	if !strings.HasPrefix(got.Old.DebugInfo, root1) || !strings.HasPrefix(got.New.DebugInfo, root2) {
		t.Errorf("debug info from %q and %q, want %s and %s", got.Old.DebugInfo, got.New.DebugInfo, root1, root2)
	}
	if len(got.Changes) != len(want.Changes) {
		t.Errorf("%d changes, want %d as unstripped", len(got.Changes), len(want.Changes))
	}
	for i := range min(len(got.Changes), len(want.Changes)) {
		if string(got.Changes[i]) != string(want.Changes[i]) {
			t.Errorf("change %d: %s\nwant %s", i, got.Changes[i], want.Changes[i])
		}
	}
	// Each root serves its own side only.
	swapped := check("--debug-info-dir1", root2, "--debug-info-dir2", root1)
	if swapped.Old.DebugInfo != "" || swapped.New.DebugInfo != "" {
		t.Errorf("swapped roots: debug info from %q and %q, want none", swapped.Old.DebugInfo, swapped.New.DebugInfo)
	}
	both := check("--debug-dir", root1, "--debug-dir", root2)
	if both.Old.DebugInfo == "" || both.New.DebugInfo == "" {
		t.Errorf("--debug-dir twice: debug info from %q and %q", both.Old.DebugInfo, both.New.DebugInfo)
	}
}
