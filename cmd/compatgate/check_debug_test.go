package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckMissingDebugInfo: types not compared never read as compatible.
// A pair whose only change is a parameter type (visible in DWARF only),
// built with debug information on both sides, one side or neither.
func TestCheckMissingDebugInfo(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	build := func(name, src, g string) string {
		c := filepath.Join(dir, name+".c")
		so := filepath.Join(dir, name+".so")
		os.WriteFile(c, []byte(src), 0o644)
		if out, err := exec.Command("gcc", "-shared", "-fPIC", g, "-o", so, c).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		return so
	}
	const v1, v2, same = "int api(int x) { return x; }\n", "int api(long x) { return x; }\n", "int api(int x) { return x + 1; }\n"
	oldG, newG := build("old-g", v1, "-g"), build("new-g", v2, "-g")
	oldNoG, newNoG := build("old", v1, "-g0"), build("new", v2, "-g0")
	sameG := build("same-g", same, "-g")
	const warning = "warning: types were not compared: no debug information in "
	tests := []struct {
		name     string
		args     []string
		exit     int
		first    string   // the text report's first line
		missing  []string // JSON debug_missing
		verdict  string
		stderr   string
		symsOnly bool
	}{
		{"both sides", []string{oldG, sameG}, 0, "old: ", nil, "compatible", "", false},
		{"both sides, required", []string{"--require-debug", oldG, sameG}, 0, "old: ", nil, "compatible", "", false},
		{"old only", []string{oldG, newNoG}, 4, warning + "new;", []string{"new"}, "review", "", false},
		{"new only", []string{oldNoG, newG}, 4, warning + "old;", []string{"old"}, "review", "", false},
		{"neither", []string{oldNoG, newNoG}, 4, warning + "old and new;", []string{"old", "new"}, "review", "", false},
		{"neither, symbols only", []string{"--symbols-only", oldNoG, newNoG}, 0, "old: ", nil, "compatible", "", true},
		{"one side, symbols only", []string{"--symbols-only", oldG, newNoG}, 0, "old: ", nil, "compatible", "", true},
		{"types break anyway", []string{oldG, newG}, 12, "old: ", nil, "incompatible", "", false},
		{"required, new missing", []string{"--require-debug", oldG, newNoG}, 1, "", nil, "", "--require-debug: no debug information in NEW " + newNoG, false},
		{"required, both missing", []string{"--require-debug", oldNoG, newNoG}, 1, "", nil, "", "no debug information in OLD " + oldNoG + " and NEW " + newNoG, false},
		{"both flags", []string{"--require-debug", "--symbols-only", oldG, newG}, 2, "", nil, "", "exclude each other", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"check"}, tt.args...)...)
			if code != tt.exit || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d, %q\n%s", code, stderr, tt.exit, tt.stderr, stdout)
			}
			if tt.exit == 1 || tt.exit == 2 {
				if stdout != "" || strings.Count(stderr, "\n") != 1 {
					t.Errorf("an error writes no report and one line: stdout %q, stderr %q", stdout, stderr)
				}
				return
			}
			if first, _, _ := strings.Cut(stdout, "\n"); !strings.HasPrefix(first, tt.first) {
				t.Errorf("first line %q, want %q…", first, tt.first)
			}
			code, stdout, _ = runCLI(append([]string{"check", "--format", "json"}, tt.args...)...)
			var r struct {
				Verdict      string
				DebugMissing []string `json:"debug_missing"`
				SymbolsOnly  bool     `json:"symbols_only"`
				Notes        []string
			}
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatal(err)
			}
			if code != tt.exit || r.Verdict != tt.verdict || !slices.Equal(r.DebugMissing, tt.missing) || r.SymbolsOnly != tt.symsOnly {
				t.Errorf("JSON: exit %d verdict %s debug_missing %q symbols_only %v; want %d %s %q %v",
					code, r.Verdict, r.DebugMissing, r.SymbolsOnly, tt.exit, tt.verdict, tt.missing, tt.symsOnly)
			}
			if (tt.missing != nil || tt.symsOnly) && !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.HasPrefix(n, "types were not checked") }) {
				t.Errorf("JSON notes %q lack why types were not checked", r.Notes)
			}
		})
	}
}
