//go:build linux && amd64

package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// injectFixture is libver v1 and v2 and the threaded target of gate/inject.
type injectFixture struct {
	v1, v2, target string
	announce       string // v2 whose constructor prints "loading" and sleeps 400ms
}

func buildInjectFixture(t *testing.T) injectFixture {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("the injection tests trace processes: run as root")
	}
	src := filepath.Join("..", "..", "gate", "inject", "testdata")
	dir := t.TempDir()
	gccOK := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var f injectFixture
	for _, v := range []struct {
		dst  *string
		sub  string
		defs []string
	}{
		{&f.v1, "v1", []string{"-DVERSION=1"}},
		{&f.v2, "v2", []string{"-DVERSION=2"}},
		{&f.announce, "announce", []string{"-DVERSION=2", "-DANNOUNCE_LOAD"}},
	} {
		*v.dst = filepath.Join(dir, v.sub, "libver.so.1")
		if err := os.MkdirAll(filepath.Dir(*v.dst), 0o755); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"-O2", "-fPIC", "-shared", "-fcf-protection=full", "-Wl,-soname,libver.so.1",
			"-Wl,--build-id"}, v.defs...)
		gccOK(append(args, "-o", *v.dst, filepath.Join(src, "libver.c"))...)
	}
	f.target = filepath.Join(dir, "target")
	gccOK("-O2", "-pthread", "-fcf-protection=full", "-o", f.target, filepath.Join(src, "target.c"), f.v1,
		"-Wl,-rpath,"+filepath.Dir(f.v1))
	return f
}

// threadsTarget is "target threads N", talked to through pipes.
type threadsTarget struct {
	cmd   *exec.Cmd
	stdin io.Writer
	out   *bufio.Scanner
}

func startThreadsTarget(t *testing.T, f injectFixture, n int) *threadsTarget {
	t.Helper()
	cmd := exec.Command(f.target, "threads", strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tg := &threadsTarget{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if l := tg.line(t); l != "ready" {
		t.Fatalf("target said %q", l)
	}
	return tg
}

func (tg *threadsTarget) line(t *testing.T) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		if tg.out.Scan() {
			got <- tg.out.Text()
		}
		close(got)
	}()
	select {
	case l, ok := <-got:
		if !ok {
			t.Fatalf("the target exited: %v", tg.cmd.Wait())
		}
		return l
	case <-time.After(60 * time.Second):
		t.Fatal("the target did not answer within 60s")
	}
	return ""
}

// version asks for a report and returns the version every thread runs,
// failing on disagreement, wrong results or EINTR.
func (tg *threadsTarget) version(t *testing.T) int {
	t.Helper()
	if _, err := io.WriteString(tg.stdin, "report\n"); err != nil {
		t.Fatal(err)
	}
	l := tg.line(t)
	var vmin, vmax, sleeper, eintr, errs, counter int
	if _, err := fmt.Sscanf(l, "report vmin=%d vmax=%d sleeper=%d eintr=%d errors=%d counter=%d",
		&vmin, &vmax, &sleeper, &eintr, &errs, &counter); err != nil {
		t.Fatalf("report %q: %v", l, err)
	}
	if vmin != vmax || vmin != sleeper || eintr != 0 || errs != 0 || counter != 5 {
		t.Fatalf("target: %q", l)
	}
	return vmin
}

// cli runs the test binary as compatgate (see TestMain); kill, if positive, SIGKILLs it
// after that long. It returns the exit status (-1 when killed) and stdout.
func cli(t *testing.T, kill time.Duration, args ...string) (int, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), cliHelperEnv+"=1", "COMPATGATE_ARGS="+strings.Join(args, "\n"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if kill > 0 {
		timer := time.AfterFunc(kill, func() { cmd.Process.Signal(syscall.SIGKILL) })
		defer timer.Stop()
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, out.String()
	}
	if err != nil && cmd.ProcessState.ExitCode() < 0 {
		t.Fatalf("compatgate %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// released checks that no thread of pid is stopped or traced; the kernel
// detaches the tracees of a dead tracer, so this holds at once or soon.
func released(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		bad := ""
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
		for _, p := range tasks {
			data, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(l, "State:"); ok && (strings.Contains(v, "stopped") || strings.Contains(v, "tracing stop")) {
					bad = p + ": " + l
				}
				if v, ok := strings.CutPrefix(l, "TracerPid:"); ok && strings.TrimSpace(v) != "0" {
					bad = p + ": " + l
				}
			}
		}
		if len(tasks) == 0 {
			t.Fatalf("process %d is gone", pid)
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left stopped or traced: %s", bad)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// journalWords returns, by address, every word value the journals in
// stateDir allow at that address (old and new of every write).
func journalWords(t *testing.T, stateDir string, pid int) map[uint64][][]byte {
	t.Helper()
	words := map[uint64][][]byte{}
	files, _ := filepath.Glob(filepath.Join(stateDir, fmt.Sprintf("pid-%d-*.json", pid)))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var j struct {
			Generations []struct {
				Writes []struct {
					Addr     uint64
					Old, New string
				}
			}
		}
		if err := json.Unmarshal(data, &j); err != nil {
			t.Fatalf("journal %s: %v", p, err)
		}
		for _, g := range j.Generations {
			for _, w := range g.Writes {
				for _, h := range []string{w.Old, w.New} {
					b, err := hex.DecodeString(h)
					if err != nil {
						t.Fatal(err)
					}
					words[w.Addr] = append(words[w.Addr], b)
				}
			}
		}
	}
	return words
}

// noStrayBytes compares OLD's text in the process with the file: every
// differing byte must be in a journaled word holding its old or new value.
func noStrayBytes(t *testing.T, pid int, oldPath, stateDir string) {
	t.Helper()
	file, err := os.ReadFile(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	words := journalWords(t, stateDir, pid)
	seen := false
	for _, l := range strings.Split(string(maps), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[5] != oldPath || !strings.Contains(f[1], "x") {
			continue
		}
		seen = true
		var start, end, off uint64
		fmt.Sscanf(f[0], "%x-%x", &start, &end)
		fmt.Sscanf(f[2], "%x", &off)
		text := make([]byte, end-start)
		if _, err := mem.ReadAt(text, int64(start)); err != nil {
			t.Fatal(err)
		}
		want := file[off:min(uint64(len(file)), off+end-start)]
		for i := range want {
			if text[i] == want[i] {
				continue
			}
			a := (start + uint64(i)) &^ 7
			cur := text[a-start : a-start+8]
			ok := false
			for _, w := range words[a] {
				ok = ok || bytes.Equal(w, cur)
			}
			if !ok {
				t.Fatalf("OLD's text at %#x is %x: neither the file's bytes nor a journaled word", a, cur)
			}
		}
	}
	if !seen {
		t.Fatalf("process %d does not map %s", pid, oldPath)
	}
}

// TestKillDuringApplyRevert kills compatgate with SIGKILL at random points
// of apply and revert. After each kill the target must run, released (not
// stopped, not traced), every thread on the same version with right
// results; OLD's text must hold only its own bytes or journaled words; and
// status must tell the truth, or revert must complete an interrupted
// operation. COMPATGATE_KILLS sets the number of kills (10 by default;
// bench/killsoak runs 50).
func TestKillDuringApplyRevert(t *testing.T) {
	f := buildInjectFixture(t)
	kills := 10
	if s := os.Getenv("COMPATGATE_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("COMPATGATE_KILLS=%q", s)
		}
		kills = n
	}
	tg := startThreadsTarget(t, f, 4)
	pid := tg.cmd.Process.Pid
	state := t.TempDir()
	p := strconv.Itoa(pid)
	apply := []string{"apply", "--pid", p, "--state-dir", state, "--format", "json", "--busy-timeout", "60s", f.v1, f.v2}
	revert := []string{"revert", "--pid", p, "--state-dir", state, "--format", "json", f.v1}
	status := []string{"status", "--pid", p, "--state-dir", state, "--format", "json"}

	// Calibrate: how long an unkilled apply and revert take here.
	var took [2]time.Duration
	for i, args := range [][]string{apply, revert} {
		start := time.Now()
		if code, out := cli(t, 0, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", args[0], code, out)
		}
		took[i] = time.Since(start)
	}
	// The kills land between the command's start-up (what status takes)
	// and a little after the end of an unkilled run.
	startup := time.Now()
	cli(t, 0, status...)
	base := time.Since(startup) * 4 / 5
	t.Logf("unkilled: apply %v, revert %v, start-up %v", took[0], took[1], base)
	if v := tg.version(t); v != 1 {
		t.Fatalf("after calibration: version %d", v)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	cur := 1
	counts := map[string]int{}
	for i := 0; i < kills; i++ {
		op, args := 0, apply
		if cur == 2 {
			op, args = 1, revert
		}
		delay := base + time.Duration(rng.Int64N(int64(max(took[op]-base, time.Millisecond))))
		code, _ := cli(t, max(delay, time.Microsecond), args...)
		released(t, pid)
		noStrayBytes(t, pid, f.v1, state)
		got := tg.version(t)
		var st statusReport
		_, out := cli(t, 0, status...)
		if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Processes) != 1 {
			t.Fatalf("status: %v\n%s", err, out)
		}
		ps := st.Processes[0]
		outcome := "killed"
		if code >= 0 {
			outcome = "finished"
		}
		switch {
		case ps.Status == "error":
			// An interrupted operation: revert completes it.
			if code, out := cli(t, 0, revert...); code != 0 {
				t.Fatalf("kill %d: revert after an interrupted %s: exit %d\n%s", i, args[0], code, out)
			}
			if v := tg.version(t); v != 1 {
				t.Fatalf("kill %d: after the completing revert: version %d", i, v)
			}
			got, outcome = 1, outcome+", completed by revert"
		case len(ps.Applied) == 1 && ps.Applied[0].Intact && ps.Applied[0].State == "applied":
			if got != 2 {
				t.Fatalf("kill %d: status says applied, the target runs version %d", i, got)
			}
		case len(ps.Applied) == 0:
			if got != 1 {
				t.Fatalf("kill %d: status says nothing applied, the target runs version %d", i, got)
			}
		default:
			t.Fatalf("kill %d: status %+v", i, ps)
		}
		noStrayBytes(t, pid, f.v1, state)
		counts[args[0]+" "+outcome]++
		cur = got
	}
	t.Logf("%d kills: %v", kills, counts)
}

// TestKillDuringDlopen kills compatgate while the hijacked thread is inside
// dlopen (NEW's constructor announces itself, then sleeps): the thread
// finishes the call without a tracer, returns into the landing pad and
// restores itself from the signal frame on its stack. The target carries
// on with OLD, released, every thread right, no EINTR; nothing is applied.
func TestKillDuringDlopen(t *testing.T) {
	f := buildInjectFixture(t)
	tg := startThreadsTarget(t, f, 4)
	pid := tg.cmd.Process.Pid
	state := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"apply", "--pid", strconv.Itoa(pid), "--state-dir", state, "--busy-timeout", "60s", f.v1, f.announce}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), cliHelperEnv+"=1", "COMPATGATE_ARGS="+strings.Join(args, "\n"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if l := tg.line(t); l != "loading" {
		t.Fatalf("target said %q, want loading", l)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	released(t, pid)
	for i := 0; i < 3; i++ { // the constructor is still sleeping at first
		if v := tg.version(t); v != 1 {
			t.Fatalf("version %d after the kill", v)
		}
	}
	noStrayBytes(t, pid, f.v1, state)
	code, out := cli(t, 0, "status", "--pid", strconv.Itoa(pid), "--state-dir", state)
	if code != 0 || !strings.Contains(out, "not_changed") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
}

// lineTarget is a target whose output lines arrive on a channel.
type lineTarget struct {
	cmd   *exec.Cmd
	lines chan string
}

func startLineTarget(t *testing.T, path string, args ...string) *lineTarget {
	t.Helper()
	cmd := exec.Command(path, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lt := &lineTarget{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lt.lines <- sc.Text()
		}
		close(lt.lines)
	}()
	return lt
}

func (lt *lineTarget) expect(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lt.lines:
			if !ok {
				t.Fatalf("process %d exited waiting for %q", lt.cmd.Process.Pid, want)
			}
			if strings.HasPrefix(l, "error") {
				t.Fatalf("process %d said %q", lt.cmd.Process.Pid, l)
			}
			if l == want {
				return
			}
		case <-timeout:
			t.Fatalf("process %d: no %q within 30s", lt.cmd.Process.Pid, want)
		}
	}
}

// TestApplyManyProcesses upgrades 100 processes (and one that does not map
// OLD) in one command, in parallel, and reverts them: per-process statuses
// in order, the overall status the worst one, every process switched.
func TestApplyManyProcesses(t *testing.T) {
	f := buildInjectFixture(t)
	n := 100
	if testing.Short() {
		n = 10
	}
	var targets []*lineTarget
	var pids []string
	for i := 0; i < n; i++ {
		lt := startLineTarget(t, f.target, "sleep")
		targets = append(targets, lt)
		pids = append(pids, strconv.Itoa(lt.cmd.Process.Pid))
	}
	other := startLineTarget(t, "sleep", "60")
	pids = append(pids, strconv.Itoa(other.cmd.Process.Pid))
	for _, lt := range targets {
		lt.expect(t, "version 1")
	}
	state := t.TempDir()
	for _, step := range []struct {
		args    []string
		version string
	}{
		{[]string{"apply", "--parallel", "4", f.v1, f.v2}, "version 2"},
		{[]string{"revert", f.v1}, "version 1"},
	} {
		args := append([]string{step.args[0], "--pid", strings.Join(pids, ","), "--state-dir", state, "--format", "json"}, step.args[1:]...)
		start := time.Now()
		code, out := cli(t, 0, args...)
		t.Logf("%s of %d processes: %v", step.args[0], len(pids), time.Since(start))
		var rep injectReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: %v\n%s", step.args[0], err, out)
		}
		if code != 0 || rep.Status != "not_loaded" || len(rep.Processes) != len(pids) {
			t.Fatalf("%s: exit %d, overall %s, %d results\n%s", step.args[0], code, rep.Status, len(rep.Processes), out)
		}
		for i, r := range rep.Processes {
			want := "ok"
			if i == n {
				want = "not_loaded"
			}
			if strconv.Itoa(r.PID) != pids[i] || string(r.Status) != want {
				t.Fatalf("%s: result %d: pid %d %s (%s), want pid %s %s", step.args[0], i, r.PID, r.Status, r.Reason, pids[i], want)
			}
		}
		for _, lt := range targets {
			lt.expect(t, step.version)
		}
	}
}

// TestPatchinfoCommand writes a .patchinfo section into a built patch
// object with the command, shows it, and applies the patch: only ver_get
// is redirected, and only because OLD is the build the patch names.
func TestPatchinfoCommand(t *testing.T) {
	f := buildInjectFixture(t)
	patch := filepath.Join(t.TempDir(), "patch.so")
	src := filepath.Join("..", "..", "gate", "inject", "testdata", "patch.c")
	if out, err := exec.Command("gcc", "-O2", "-fPIC", "-shared", "-DPATCH_VERSION=7", "-o", patch, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	code, out := cli(t, 0, "patchinfo", "write", "--target", f.v1, "--version", "7.0-p1", "--functions", "ver_get", patch)
	if code != 0 {
		t.Fatalf("patchinfo write: exit %d\n%s", code, out)
	}
	code, out = cli(t, 0, "patchinfo", "show", "--format", "json", patch)
	var pi struct {
		Version   string   `json:"version"`
		Functions []string `json:"functions"`
	}
	if err := json.Unmarshal([]byte(out), &pi); code != 0 || err != nil || pi.Version != "7.0-p1" || len(pi.Functions) != 1 {
		t.Fatalf("patchinfo show: exit %d, %v\n%s", code, err, out)
	}
	lt := startLineTarget(t, f.target, "sleep")
	lt.expect(t, "version 1")
	state := t.TempDir()
	pid := strconv.Itoa(lt.cmd.Process.Pid)
	if code, out := cli(t, 0, "apply", "--pid", pid, "--state-dir", state, f.v1, patch); code != 0 || !strings.Contains(out, "redirected 1 function") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	lt.expect(t, "version 7")
	if code, out := cli(t, 0, "revert", "--pid", pid, "--state-dir", state, f.v1); code != 0 {
		t.Fatalf("revert: exit %d\n%s", code, out)
	}
	lt.expect(t, "version 1")
}
