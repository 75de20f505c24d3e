//go:build unix

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// buildDemo compiles a one-function library returning version into dir/name.
func buildDemo(t *testing.T, dir, name string, version int, extra string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	src := filepath.Join(t.TempDir(), "demo.c")
	code := "int lib_version(void) { volatile int v = " + strconv.Itoa(version) + "; return v; }\n" + extra
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	if b, err := exec.Command("gcc", "-shared", "-fPIC", "-g", "-Wl,--build-id", "-Wl,-soname,libdemo.so.1", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return out
}

func TestUpgradeUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", []string{"upgrade"}, "want OLD and NEW"},
		{"pid and all", []string{"upgrade", "--pid", "1", "--all", "a", "b"}, "exclude each other"},
		{"bad pid", []string{"upgrade", "--pid", "x", "a", "b"}, "not a process ID"},
		{"bad format", []string{"upgrade", "--format", "xml", "a", "b"}, "unknown --format"},
		{"restart and signal", []string{"upgrade", "--restart", "true", "--signal", "TERM", "a", "b"}, "exclude each other"},
		{"bad window", []string{"upgrade", "--window", "nope", "--window-duration", "1h", "a", "b"}, "maintenance window"},
		{"rollback without library", []string{"rollback"}, "want one LIBRARY"},
		{"serve without config", []string{"serve"}, "want --config"},
		{"serve bad log format", []string{"serve", "--config", "x", "--log-format", "xml"}, "unknown --log-format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := queueCLI(append(tc.args, "--state-dir", t.TempDir())...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
}

// upgrade installs NEW (no process maps it here), dry runs change nothing,
// the audit log records the decision and the install, and rollback
// reinstalls the previous build.
func TestUpgradeAndRollbackCommands(t *testing.T) {
	dir := t.TempDir()
	lib := buildDemo(t, dir, "libdemo.so.1", 1, "")
	v1, _ := os.ReadFile(lib)
	v2 := buildDemo(t, t.TempDir(), "v2.so", 2, "int lib_extra(void) { return 0; }\n")
	state := "--state-dir=" + t.TempDir()

	code, out, stderr := queueCLI("upgrade", "--dry-run", "--format", "json", state, lib, v2)
	if code != exitOK {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	var plan struct {
		Verdict  string `json:"verdict"`
		DryRun   bool   `json:"dry_run"`
		Decision struct {
			Action string `json:"action"`
		} `json:"decision"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if plan.Verdict != "compatible" || !plan.DryRun || plan.Decision.Action != "hot-apply" {
		t.Errorf("dry run: %+v", plan)
	}
	if b, _ := os.ReadFile(lib); string(b) != string(v1) {
		t.Fatal("dry run changed the library")
	}

	code, out, stderr = queueCLI("upgrade", state, lib, v2)
	if code != exitOK {
		t.Fatalf("upgrade: exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"decision    hot-apply", "installed   yes; previous build kept at " + lib + ".compatgate-prev", "processes   none", "status      ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("upgrade output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = queueCLI("log", state)
	if code != exitOK || !strings.Contains(out, "decide") || !strings.Contains(out, "install") {
		t.Errorf("log: %d\n%s", code, out)
	}

	code, out, stderr = queueCLI("rollback", state, lib)
	if code != exitOK || !strings.Contains(out, "reinstalled from") {
		t.Fatalf("rollback: exit %d: %s\n%s", code, stderr, out)
	}
	if b, _ := os.ReadFile(lib); string(b) != string(v1) {
		t.Error("rollback did not restore the previous build")
	}
	// Not a shared object: one line, exit 1, nothing installed.
	junk := filepath.Join(t.TempDir(), "junk.so")
	os.WriteFile(junk, []byte("junk"), 0o644)
	code, _, stderr = queueCLI("upgrade", state, lib, junk)
	if code != exitError || strings.Count(stderr, "\n") != 1 {
		t.Errorf("junk NEW: exit %d, stderr %q", code, stderr)
	}
	if b, _ := os.ReadFile(lib); string(b) != string(v1) {
		t.Error("a failed upgrade changed the library")
	}
}

// --config takes the library's subscription: here hot-apply is not
// allowed, so a compatible upgrade is planned as a restart.
func TestUpgradeWithConfig(t *testing.T) {
	dir := t.TempDir()
	lib := buildDemo(t, dir, "libdemo.so.1", 1, "")
	v2 := buildDemo(t, t.TempDir(), "v2.so", 2, "")
	config := filepath.Join(t.TempDir(), "subscriptions.toml")
	text := "[[library]]\npath = \"" + lib + "\"\nreleases = \"" + dir + "\"\nhot_apply = false\n" +
		"[library.followers]\nall = true\n[library.restart]\ncommand = \"true\"\n"
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := queueCLI("upgrade", "--dry-run", "--config", config, "--state-dir", t.TempDir(), lib, v2)
	if code != exitOK || !strings.Contains(out, "decision    restart") || !strings.Contains(out, "not allowed for this library (policy)") {
		t.Errorf("exit %d\n%s%s", code, out, stderr)
	}
	code, _, stderr = queueCLI("upgrade", "--dry-run", "--config", config, "--state-dir", t.TempDir(), v2, lib)
	if code != exitError || !strings.Contains(stderr, "has no subscription") {
		t.Errorf("unsubscribed library: exit %d: %s", code, stderr)
	}
}

// An incompatible NEW is held: not installed, exit 0, the output says how
// to approve it and lists the breaking finding; approving and running the
// queue installs it. A NEW with another SONAME is installed beside OLD.
func TestUpgradeHeldAndBesideCommands(t *testing.T) {
	dir := t.TempDir()
	lib := buildDemo(t, dir, "libdemo.so.1", 1, "int lib_extra(void) { return 0; }\n")
	v1, _ := os.ReadFile(lib)
	v2 := buildDemo(t, t.TempDir(), "v2.so", 2, "") // lib_extra removed
	state := "--state-dir=" + t.TempDir()
	code, out, stderr := queueCLI("upgrade", state, lib, v2)
	if code != exitOK {
		t.Fatalf("upgrade: exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"decision    hold", "finding     break symbol-removed", "installed   no: held until approved (compatgate queue approve 1)", "status      held"} {
		if !strings.Contains(out, want) {
			t.Errorf("upgrade output lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(lib); string(b) != string(v1) {
		t.Fatal("an incompatible build was installed")
	}
	if code, out, _ := queueCLI("queue", "list", state, "--state", "held"); code != exitOK || !strings.Contains(out, lib) {
		t.Errorf("queue list --state held: %d\n%s", code, out)
	}
	if code, _, stderr := queueCLI("queue", "approve", state, "1"); code != exitOK {
		t.Fatalf("approve: %d %s", code, stderr)
	}
	if code, out, stderr := queueCLI("queue", "run", "--now", state); code != exitOK || !strings.Contains(out, "entry 1: done: 0 target(s) restarted") {
		t.Fatalf("run: %d %s %s", code, out, stderr)
	}
	v2b, _ := os.ReadFile(v2)
	if b, _ := os.ReadFile(lib); string(b) != string(v2b) {
		t.Error("the approved build was not installed")
	}

	// Another SONAME: beside.
	src := filepath.Join(t.TempDir(), "so2.c")
	os.WriteFile(src, []byte("int lib_version(void) { return 3; }\n"), 0o644)
	v3 := filepath.Join(t.TempDir(), "libdemo.so.2.0")
	if b, err := exec.Command("gcc", "-shared", "-fPIC", "-Wl,-soname,libdemo.so.2", "-o", v3, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	code, out, stderr = queueCLI("upgrade", state, lib, v3)
	if code != exitOK || !strings.Contains(out, "installed   beside OLD at "+filepath.Join(dir, "libdemo.so.2.0")+", SONAME link "+filepath.Join(dir, "libdemo.so.2")) {
		t.Errorf("beside: exit %d: %s\n%s", code, stderr, out)
	}
}

// Without debug information for NEW, private layouts cannot be compared:
// the upgrade is planned as a restart naming NEW, unless
// --hot-apply-without-debug, or the subscription's
// hot_apply_without_debug, allows hot-apply.
func TestUpgradeWithoutDebug(t *testing.T) {
	dir := t.TempDir()
	lib := buildDemo(t, dir, "libdemo.so.1", 1, "")
	v2 := buildDemo(t, t.TempDir(), "v2.so", 2, "")
	if b, err := exec.Command("strip", "--strip-debug", v2).CombinedOutput(); err != nil {
		t.Fatalf("strip: %v\n%s", err, b)
	}
	config := filepath.Join(t.TempDir(), "subscriptions.toml")
	text := "[[library]]\npath = \"" + lib + "\"\nreleases = \"" + dir + "\"\nhot_apply = true\nhot_apply_without_debug = true\n" +
		"[library.followers]\nall = true\n[library.restart]\ncommand = \"true\"\n"
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"refused", nil, []string{"decision    restart", "rule        private-layouts-unchanged  fails",
			"private-layouts-unchanged: types not compared: no debug information for NEW"}},
		{"flag", []string{"--hot-apply-without-debug"}, []string{"decision    hot-apply", "rule        private-layouts-unchanged  holds"}},
		{"subscription", []string{"--config", config}, []string{"decision    hot-apply"}},
		{"flag overrides subscription", []string{"--config", config, "--hot-apply-without-debug=false"}, []string{"decision    restart"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"upgrade", "--dry-run", "--state-dir", t.TempDir()}, tc.flags...)
			code, out, stderr := queueCLI(append(args, lib, v2)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s\n%s", code, stderr, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
