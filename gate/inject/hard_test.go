//go:build linux && amd64

package inject

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cpuHasAVX2 reports whether /proc/cpuinfo lists avx2.
func cpuHasAVX2() bool {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "flags") {
			return slices.Contains(strings.Fields(line), "avx2")
		}
	}
	return false
}

// buildHard compiles testdata/hard.c against the fixture's OLD.
func buildHard(t *testing.T, f *fixture, extra ...string) *fixture {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hard")
	args := append([]string{"-O2", "-pthread"}, extra...)
	args = append(args, "-o", out, "testdata/hard.c", f.v1, "-Wl,-rpath,"+filepath.Dir(f.v1))
	if err := gcc(args...); err != nil {
		t.Fatal(err)
	}
	g := *f
	g.target = out
	return &g
}

// spinnerTIDs asks the hard target for its spinning threads.
func spinnerTIDs(t *testing.T, tg *target) []int {
	t.Helper()
	var tids []int
	for _, s := range strings.Fields(tg.ask("tids"))[1:] {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("tids: %v", err)
		}
		tids = append(tids, n)
	}
	return tids
}

// TestExtendedRegisters runs threads spinning in assembly with live values
// in the vector registers (ymm with AVX2, else xmm), r12-r15, a non-default
// MXCSR and the red zone, checked on every round, while upgrades are
// applied and reverted. The engine prefers a thread running its own code
// for dlopen, so one of the spinners is the hijacked thread (asserted) and
// the others are merely stopped; the values must be bit-identical in all.
func TestExtendedRegisters(t *testing.T) {
	f := setup(t)
	var flags []string
	if cpuHasAVX2() {
		flags = []string{"-mavx2", "-DUSE_AVX2"}
	} else {
		t.Log("the CPU has no AVX2: checking xmm0-14 only")
	}
	g := buildHard(t, f, flags...)
	tg := startTarget(t, g, "regs", "3")
	spinners := spinnerTIDs(t, tg)
	o := opts(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
		mustStatus(t, "apply", r, StatusOK)
		if len(r.hijacked) == 0 || !slices.Contains(spinners, r.hijacked[0]) {
			t.Fatalf("dlopen ran in thread(s) %v, not in a spinner %v", r.hijacked, spinners)
		}
		if got := tg.ask("report"); got != "report rounds=ok errors=0" {
			t.Fatalf("after apply %d: %q", i, got)
		}
		mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
		if got := tg.ask("report"); got != "report rounds=ok errors=0" {
			t.Fatalf("after revert %d: %q", i, got)
		}
	}
}

// askUntil asks the target cmd until the reply is want, a bounded number
// of times: a signal re-sent by the engine is delivered asynchronously.
func askUntil(t *testing.T, tg *target, cmd, want string) {
	t.Helper()
	var got string
	for i := 0; i < 200; i++ {
		if got = tg.ask(cmd); got == want {
			return
		}
	}
	t.Fatalf("%s: %q, want %q", cmd, got, want)
}

// TestSignalsDuringCall sends signals to the hijacked thread while it runs
// dlopen (NEW's constructor announces itself and sleeps): they are held
// and delivered exactly once after the thread is released — one SIGUSR1,
// three queued SIGRTMIN. The SIGUSR1 handler calls the library: it sees
// NEW after the upgrade and OLD after the revert.
func TestSignalsDuringCall(t *testing.T) {
	f := setup(t)
	g := buildHard(t, f)
	tg := startTarget(t, g, "signals")
	spinner := spinnerTIDs(t, tg)[0]
	pid := tg.pid()
	o := opts(t)
	ctx := context.Background()
	done := make(chan Result, 1)
	go func() { done <- Apply(ctx, pid, f.v1, f.announce, o) }()
	tg.expect("loading")
	rtmin := unix.Signal(sigrtmin())
	for _, s := range []unix.Signal{unix.SIGUSR1, rtmin, rtmin, rtmin} {
		if err := unix.Tgkill(pid, spinner, s); err != nil {
			t.Fatal(err)
		}
	}
	r := <-done
	mustStatus(t, "apply", r, StatusOK)
	if len(r.hijacked) == 0 || r.hijacked[0] != spinner {
		t.Fatalf("dlopen ran in thread(s) %v, not in the spinner %d", r.hijacked, spinner)
	}
	askUntil(t, tg, "report", "report usr1=1 rt=3 hv=2")
	if err := unix.Kill(pid, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	askUntil(t, tg, "report", "report usr1=2 rt=3 hv=2")
	mustStatus(t, "revert", Revert(ctx, pid, f.v1, o), StatusOK)
	if err := unix.Tgkill(pid, spinner, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	askUntil(t, tg, "report", "report usr1=3 rt=3 hv=1")
}

// sigrtmin is glibc's SIGRTMIN (the kernel's 32 and 33 are reserved).
func sigrtmin() int { return 34 }

// TestLoaderLockHolderNotHijacked: the only thread in a harmless system
// call is blocked inside a dl_iterate_phdr callback, so it holds the
// loader's write lock; the other thread waits in pthread_join. dlopen must
// not run in either: busy, untouched. Once the thread leaves the callback
// the same upgrade succeeds in it.
func TestLoaderLockHolderNotHijacked(t *testing.T) {
	f := setup(t)
	g := buildHard(t, f)
	tg := startTarget(t, g, "phdr")
	before := snapshot(t, tg.pid(), f)
	o := opts(t)
	o.BusyTimeout = 300 * time.Millisecond
	r := Apply(context.Background(), tg.pid(), f.v1, f.v2, o)
	mustStatus(t, "apply while the lock is held", r, StatusBusy)
	if !strings.Contains(r.Reason, "locking C library function") {
		t.Errorf("reason %q does not name the lock holder", r.Reason)
	}
	if snapshot(t, tg.pid(), f) != before {
		t.Errorf("process changed")
	}
	if _, err := io.WriteString(tg.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	tg.expect("outside")
	o.BusyTimeout = 5 * time.Second
	mustStatus(t, "apply after the lock is released", Apply(context.Background(), tg.pid(), f.v1, f.v2, o), StatusOK)
	if got := tg.ask("ver"); got != "ver 2" {
		t.Errorf("after apply: %q", got)
	}
}

// buildThird compiles the library the hammer target loads and unloads.
func buildThird(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "libthird.so")
	if err := gcc("-O2", "-fPIC", "-shared", "-o", out, "testdata/third.c"); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLockHammer applies and reverts upgrades repeatedly while threads
// hammer malloc/free, dlopen/dlclose of a third library (whose constructor
// and destructor run under the loader's lock) and dl_iterate_phdr with a
// spinning callback (under the loader's write lock). Each operation must
// finish within its timeout with status ok, and the checking thread must
// see the right version with no wrong result.
func TestLockHammer(t *testing.T) {
	f := setup(t)
	g := buildHard(t, f)
	third := buildThird(t)
	tg := startTarget(t, g, "hammer", "4", third)
	o := opts(t)
	ctx := context.Background()
	cycles := 30
	if testing.Short() {
		cycles = 5
	}
	for i := 0; i < cycles; i++ {
		for _, step := range []struct {
			name string
			do   func() Result
			want string
		}{
			{"apply", func() Result { return Apply(ctx, tg.pid(), f.v1, f.v2, o) }, "check v=2 errors=0"},
			{"revert", func() Result { return Revert(ctx, tg.pid(), f.v1, o) }, "check v=1 errors=0"},
		} {
			start := time.Now()
			r := step.do()
			mustStatus(t, fmt.Sprintf("%s %d", step.name, i), r, StatusOK)
			if d := time.Since(start); d > 15*time.Second {
				t.Fatalf("%s %d took %v", step.name, i, d)
			}
			if got := tg.ask("check"); got != step.want {
				t.Fatalf("after %s %d: %q, want %q", step.name, i, got, step.want)
			}
		}
	}
}

// TestCxxOddCases upgrades a C++ library while a thread throws exceptions
// out of it and catches them in the program, then cancels a thread blocked
// inside it (pthread_cancel unwinds through the library's frames) and calls
// cx_edge, whose patch site crosses a page boundary. Each works on the new
// code after apply and on the old after revert.
func TestCxxOddCases(t *testing.T) {
	f := setup(t)
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skip("g++ not found")
	}
	dir := t.TempDir()
	gxx := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
			t.Fatalf("g++ %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	libs := map[string]string{}
	for _, v := range []string{"1", "2"} {
		out := filepath.Join(dir, "v"+v, "libcxx.so.1")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		gxx("-O2", "-fPIC", "-shared", "-fcf-protection=full", "-Wl,-soname,libcxx.so.1", "-Wl,--build-id",
			"-DVERSION="+v, "-o", out, "testdata/cxx.cc")
		libs[v] = out
	}
	g := *f
	g.target = filepath.Join(dir, "cxx_target")
	gxx("-O2", "-pthread", "-o", g.target, "testdata/cxx_target.cc", libs["1"], "-Wl,-rpath,"+filepath.Dir(libs["1"]))
	tg := startTarget(t, &g)
	want := func(v string) string {
		return "report ex=" + v + " edge=" + v + " ver=" + v + " cancel=ok errors=0"
	}
	if got := tg.ask("report"); got != want("1") {
		t.Fatalf("before: %q", got)
	}
	o := opts(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		mustStatus(t, "apply", Apply(ctx, tg.pid(), libs["1"], libs["2"], o), StatusOK)
		if got := tg.ask("report"); got != want("2") {
			t.Fatalf("after apply: %q, want %q", got, want("2"))
		}
		mustStatus(t, "revert", Revert(ctx, tg.pid(), libs["1"], o), StatusOK)
		if got := tg.ask("report"); got != want("1") {
			t.Fatalf("after revert: %q, want %q", got, want("1"))
		}
	}
}

// TestThreadChurn applies and reverts while threads are created and exit
// without pause, so threads appear and vanish while the engine stops the
// world, hijacks one and writes: every operation succeeds and new threads
// run the right version.
func TestThreadChurn(t *testing.T) {
	f := setup(t)
	g := buildHard(t, f)
	tg := startTarget(t, g, "churn")
	o := opts(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		mustStatus(t, fmt.Sprintf("apply %d", i), Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
		if got := tg.ask("check"); got != "check v=2 errors=0" {
			t.Fatalf("after apply %d: %q", i, got)
		}
		mustStatus(t, fmt.Sprintf("revert %d", i), Revert(ctx, tg.pid(), f.v1, o), StatusOK)
		if got := tg.ask("check"); got != "check v=1 errors=0" {
			t.Fatalf("after revert %d: %q", i, got)
		}
	}
}

// buildPatch compiles testdata/patch.c returning version v, and writes its
// .patchinfo (unless target is "") for the build target, replacing ver_get.
func buildPatch(t *testing.T, v, target string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "patch"+v+".so")
	if err := gcc("-O2", "-fPIC", "-shared", "-fcf-protection=full", "-Wl,--build-id", "-DPATCH_VERSION="+v, "-o", out, "testdata/patch.c"); err != nil {
		t.Fatal(err)
	}
	if target != "" {
		if err := WritePatchInfo(out, PatchInfo{TargetBuildID: target, Version: "p" + v, Functions: []string{"ver_get"}}); err != nil {
			t.Fatal(err)
		}
		pi, err := ReadPatchInfo(out)
		if err != nil || pi == nil || pi.Version != "p"+v || pi.TargetBuildID != target {
			t.Fatalf("reading back .patchinfo: %+v, %v", pi, err)
		}
	}
	return out
}

// TestPatchObjects applies patch objects — shared objects replacing only
// the functions their .patchinfo lists, for the one build it names —
// stacked: v1, patch 2, patch 3, revert to 2, revert to 1, each checked by
// the target's behaviour. A patch for another build is refused; one
// without .patchinfo that lacks OLD's other functions is refused.
func TestPatchObjects(t *testing.T) {
	f := setup(t)
	v1ID, err := BuildID(f.v1)
	if err != nil {
		t.Fatal(err)
	}
	otherID, err := BuildID(f.other)
	if err != nil {
		t.Fatal(err)
	}
	p2, p3 := buildPatch(t, "2", v1ID), buildPatch(t, "3", v1ID)
	tg := startTarget(t, f, "loop")
	tg.expect("version 1")
	o := opts(t)
	ctx := context.Background()
	before := snapshot(t, tg.pid(), f)
	for _, tt := range []struct {
		name, old, patch string
		want             Status
		reason           string
	}{
		{"patch for another build", f.v1, buildPatch(t, "4", otherID), StatusRefused, "is for the build " + otherID},
		{"process maps another build", f.other, buildPatch(t, "5", otherID), StatusRefused, "not OLD's build"},
		{"no .patchinfo", f.v1, buildPatch(t, "6", ""), StatusRefused, "does not export function"},
	} {
		r := Apply(ctx, tg.pid(), tt.old, tt.patch, o)
		mustStatus(t, tt.name, r, tt.want)
		if !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("%s: reason %q does not mention %q", tt.name, r.Reason, tt.reason)
		}
	}
	if snapshot(t, tg.pid(), f) != before {
		t.Fatalf("a refused patch changed the process")
	}
	r := Apply(ctx, tg.pid(), f.v1, p2, o)
	mustStatus(t, "apply patch 2", r, StatusOK)
	if r.Functions != 1 || r.New.Patch != "p2" {
		t.Errorf("apply patch 2: %d functions, patch %q", r.Functions, r.New.Patch)
	}
	tg.expect("version 2")
	mustStatus(t, "apply patch 3", Apply(ctx, tg.pid(), f.v1, p3, o), StatusOK)
	tg.expect("version 3")
	mustStatus(t, "revert to patch 2", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	tg.expect("version 2")
	mustStatus(t, "revert to v1", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	tg.expect("version 1")
	if got := oldText(t, tg.pid(), f); !strings.HasSuffix(before, got) {
		t.Errorf("OLD's text not restored exactly")
	}
}
