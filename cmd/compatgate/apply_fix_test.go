//go:build linux && amd64

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestApplyDuplicatePID: a process named twice in --pid is worked on once.
func TestApplyDuplicatePID(t *testing.T) {
	f := buildInjectFixture(t)
	lt := startLineTarget(t, f.target, "sleep")
	lt.expect(t, "version 1")
	pid := strconv.Itoa(lt.cmd.Process.Pid)
	code, out := cli(t, 0, "apply", "--pid", pid+","+pid+" ,"+pid, "--state-dir", t.TempDir(), "--format", "json", f.v1, f.v2)
	var rep injectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 0 || rep.Status != "ok" || len(rep.Processes) != 1 {
		t.Fatalf("exit %d, overall %s, %d results, want 0, ok, 1\n%s", code, rep.Status, len(rep.Processes), out)
	}
	lt.expect(t, "version 2")
}

// TestApplyNonRoot: without CAP_SYS_PTRACE, apply and revert say what
// they need in one line and exit 1.
func TestApplyNonRoot(t *testing.T) {
	f := buildInjectFixture(t)
	lt := startLineTarget(t, f.target, "sleep")
	lt.expect(t, "version 1")
	// The test binary, where user nobody may run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "compatgate.test")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	pid := strconv.Itoa(lt.cmd.Process.Pid)
	for _, args := range [][]string{
		{"apply", "--pid", pid, "--state-dir", filepath.Join(dir, "state"), f.v1, f.v2},
		{"revert", "--pid", pid, "--state-dir", filepath.Join(dir, "state"), f.v1},
	} {
		cmd := exec.Command(bin)
		cmd.Dir = dir
		cmd.Env = []string{cliHelperEnv + "=1", "COMPATGATE_ARGS=" + strings.Join(args, "\n"), "HOME=" + dir}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); cmd.ProcessState == nil {
			t.Fatal(err)
		}
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(out.String(), "requires root (CAP_SYS_PTRACE)") {
			t.Errorf("%s as nobody: exit %d, want 1 and \"requires root (CAP_SYS_PTRACE)\":\n%s", args[0], code, out.String())
		}
	}
}

// TestApplyPrecheck: apply runs the compatibility check itself. A NEW the
// check finds incompatible, or with another SONAME, is refused before any
// process is touched; --force applies it, and the audit log says so.
func TestApplyPrecheck(t *testing.T) {
	f := buildInjectFixture(t)
	dir := t.TempDir()
	src := filepath.Join("..", "..", "gate", "inject", "testdata", "libver.c")
	build := func(name string, flags ...string) string {
		args := append([]string{"-O2", "-fcf-protection=full", "-DVERSION=2"}, flags...)
		return gccShared(t, filepath.Join(dir, name, "libver.so.1"), src, args...)
	}
	noName := build("noname", "-Wl,-soname,libver.so.1", "-DNO_NAME")
	soname2 := build("soname2", "-Wl,-soname,libver.so.2")
	lt := startLineTarget(t, f.target, "sleep")
	lt.expect(t, "version 1")
	pid := strconv.Itoa(lt.cmd.Process.Pid)
	state := t.TempDir()
	for _, tt := range []struct {
		name, new, reason string
	}{
		{"incompatible", noName, "finds NEW incompatible with OLD"},
		{"another SONAME", soname2, `NEW's SONAME "libver.so.2" differs from OLD's "libver.so.1"`},
	} {
		code, out := cli(t, 0, "apply", "--pid", pid, "--state-dir", state, "--format", "json", f.v1, tt.new)
		var rep injectReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: %v\n%s", tt.name, err, out)
		}
		if code != 1 || len(rep.Processes) != 1 || rep.Processes[0].Status != "refused" || !strings.Contains(rep.Processes[0].Reason, tt.reason) {
			t.Errorf("%s: exit %d, want 1 and refused saying %q:\n%s", tt.name, code, tt.reason, out)
		}
	}
	code, out := cli(t, 0, "apply", "--force", "--pid", pid, "--state-dir", state, f.v1, soname2)
	if code != 0 {
		t.Fatalf("apply --force: exit %d\n%s", code, out)
	}
	lt.expect(t, "version 2")
	_, log := cli(t, 0, "log", "--state-dir", state, "--format", "json")
	if !strings.Contains(log, `"action": "apply-force"`) || !strings.Contains(log, "differs from OLD") {
		t.Errorf("the audit log does not record the forced apply:\n%s", log)
	}
}

// TestApplyPrivateLayouts: with debug information for both builds, apply
// refuses a NEW whose private layouts changed, naming the type, before any
// process is touched; --force applies it anyway and the audit log says
// why. Without debug information it applies, and says the layouts were not
// compared; --drain, safe only on layouts known unchanged, is refused then.
func TestApplyPrivateLayouts(t *testing.T) {
	f := buildInjectFixture(t)
	dir := t.TempDir()
	src := filepath.Join("..", "..", "gate", "testdata", "libdemo.c")
	build := func(name string, flags ...string) string {
		args := append([]string{"-g", "-O1", "-Wl,-soname,libdemo.so.1"}, flags...)
		return gccShared(t, filepath.Join(dir, name, "libdemo.so.1"), src, args...)
	}
	v1, layout := build("v1", "-DVERSION=1"), build("layout", "-DVERSION=2", "-DPRIVATE_LAYOUT")
	lt := startLineTarget(t, f.target, "sleep")
	lt.expect(t, "version 1")
	pid := strconv.Itoa(lt.cmd.Process.Pid)
	state := t.TempDir()

	code, out := cli(t, 0, "apply", "--pid", pid, "--state-dir", state, "--format", "json", v1, layout)
	var rep injectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 1 || len(rep.Processes) != 1 || rep.Processes[0].Status != "refused" || len(rep.Notes) != 0 ||
		!strings.Contains(rep.Processes[0].Reason, "private-layouts-unchanged") || !strings.Contains(rep.Processes[0].Reason, "private type struct demo_handle changed") {
		t.Errorf("private layout changed: exit %d, want 1 and refused naming struct demo_handle, no note:\n%s", code, out)
	}
	cli(t, 0, "apply", "--force", "--pid", pid, "--state-dir", state, v1, layout)
	_, log := cli(t, 0, "log", "--state-dir", state, "--format", "json")
	if !strings.Contains(log, `"action": "apply-force"`) || !strings.Contains(log, "struct demo_handle") {
		t.Errorf("the audit log does not record the forced apply and its reason:\n%s", log)
	}

	// The fixture's libver has no debug information.
	const note = "note: private layouts not compared: no debug information for OLD and NEW"
	code, out = cli(t, 0, "apply", "--drain", "--pid", pid, "--state-dir", state, f.v1, f.v2)
	if code != 1 || !strings.Contains(out, "refused") || !strings.Contains(out, "--drain needs private layouts known unchanged") || !strings.Contains(out, note) {
		t.Errorf("--drain without debug information: exit %d, want 1, refused, and the note:\n%s", code, out)
	}
	code, out = cli(t, 0, "apply", "--pid", pid, "--state-dir", state, f.v1, f.v2)
	if code != 0 || !strings.Contains(out, note) {
		t.Errorf("without debug information: exit %d, want 0 and the note:\n%s", code, out)
	}
	lt.expect(t, "version 2")
}

// gccShared compiles src into the shared object out (creating its
// directory) with a build-id and the further gcc flags args.
func gccShared(t *testing.T, out, src string, args ...string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"-fPIC", "-shared", "-Wl,--build-id"}, args...)
	if b, err := exec.Command("gcc", append(args, "-o", out, src)...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return out
}
