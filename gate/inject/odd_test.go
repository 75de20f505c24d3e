//go:build linux && amd64

package inject

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// buildStraddle compiles testdata/straddle.c as OLD (version 1) and NEW
// (version 2) with the given defines, and the target against OLD; it
// returns a fixture whose v1, v2 and target are those.
func buildStraddle(t *testing.T, defs ...string) *fixture {
	t.Helper()
	setupWith(t, "-fcf-protection=none") // skips when gcc or ptrace is missing
	dir := t.TempDir()
	f := &fixture{dir: dir}
	for v, dst := range map[int]*string{1: &f.v1, 2: &f.v2} {
		out := filepath.Join(dir, fmt.Sprintf("v%d", v), "libstraddle.so")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		args := []string{"-O2", "-fPIC", "-shared", "-fcf-protection=none", "-Wl,--build-id", "-Wl,-soname,libstraddle.so", fmt.Sprintf("-DVERSION=%d", v)}
		args = append(args, defs...)
		if err := gcc(append(args, "-o", out, "testdata/straddle.c")...); err != nil {
			t.Fatal(err)
		}
		*dst = out
	}
	f.target = filepath.Join(dir, "target")
	if err := gcc("-O2", "-fcf-protection=none", "-o", f.target, "testdata/straddle_target.c", f.v1, "-Wl,-rpath,"+filepath.Dir(f.v1)); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPageStraddlingEntry redirects a function without endbr64 whose
// entry's first instructions cross a page boundary (the entry 1 to 4 bytes
// before it), with int3 or nop padding before it, and one with no padding
// within a short jump's reach through the GOT of the target. Calls must go
// to NEW after apply and back to OLD after revert, and revert must restore
// OLD's text exactly.
func TestPageStraddlingEntry(t *testing.T) {
	tests := []struct {
		name   string // body-padding-N: N bytes of the entry before the page
		defs   []string
		viaGOT bool // the entry takes no jump: through the GOT
	}{
		// A usual prologue: the one-word scheme finds a window.
		{"prologue-int3-4", []string{"-DOFF=0xffc"}, false},
		{"prologue-int3-3", []string{"-DOFF=0xffd"}, false},
		{"prologue-int3-2", []string{"-DOFF=0xffe"}, false},
		{"prologue-int3-1", []string{"-DOFF=0xfff"}, false},
		// mov $1,%eax: the window is inside OLD; through padding.
		{"mov-int3-3", []string{"-DOFF=0xffd", "-DSHORT_BODY"}, false},
		{"mov-int3-2", []string{"-DOFF=0xffe", "-DSHORT_BODY"}, false},
		{"mov-nop-2", []string{"-DOFF=0xffe", "-DSHORT_BODY", "-DPAD=0x90"}, false},
		{"mov-int3-1", []string{"-DOFF=0xfff", "-DSHORT_BODY"}, true},
		{"mov-nopad-2", []string{"-DOFF=0xffe", "-DSHORT_BODY", "-DFILL=200"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := buildStraddle(t, tt.defs...)
			tg := startTarget(t, f)
			tg.expect("version 1")
			before := oldText(t, tg.pid(), f)
			o := opts(t)
			ctx := context.Background()
			r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
			mustStatus(t, "apply", r, StatusOK)
			tg.expect("version 2")
			if q := Query(tg.pid(), o); q.Status != StatusOK {
				t.Errorf("query after apply: %+v", q)
			}
			start, err := processStartTime(tg.pid())
			if err != nil {
				t.Fatal(err)
			}
			j, err := loadJournal(o.StateDir, tg.pid(), start)
			if err != nil || len(j.Generations) != 1 {
				t.Fatalf("journal: %v %+v", err, j)
			}
			if viaPad := len(j.Generations[0].Pads) > 0; viaPad != (strings.HasPrefix(tt.name, "mov-") && !tt.viaGOT) {
				t.Errorf("redirected through padding: %v, want %v", viaPad, !viaPad)
			}
			if got := len(j.Generations[0].ViaGOT) > 0; got != tt.viaGOT {
				t.Errorf("redirected through the GOT: %v, want %v", got, tt.viaGOT)
			}
			mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
			tg.expect("version 1")
			if after := oldText(t, tg.pid(), f); after != before {
				t.Errorf("OLD's text not restored exactly (%d bytes differ)", diffCount(before, after))
			}
			// Once more, to see that nothing was left behind.
			mustStatus(t, "re-apply", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
			tg.expect("version 2")
			mustStatus(t, "re-revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
			tg.expect("version 1")
		})
	}
}

func diffCount(a, b string) int {
	n := 0
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			n++
		}
	}
	return n + abs(len(a)-len(b))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// buildTarget compiles a test program from testdata against the fixture's
// OLD and returns a copy of the fixture running it.
func buildTarget(t *testing.T, f *fixture, src string) *fixture {
	t.Helper()
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".c"))
	if err := gcc("-O2", "-pthread", "-o", out, src, f.v1, "-Wl,-rpath,"+filepath.Dir(f.v1)); err != nil {
		t.Fatal(err)
	}
	g := *f
	g.target = out
	return &g
}

// sigqueue queues signal sig with value v to process pid (sigqueue(3)):
// si_code SI_QUEUE.
func sigqueue(pid, sig, v int) error {
	var info [128]byte
	binary.LittleEndian.PutUint32(info[0:], uint32(sig))
	binary.LittleEndian.PutUint32(info[8:], 0xffffffff) // SI_QUEUE
	binary.LittleEndian.PutUint32(info[16:], uint32(os.Getpid()))
	binary.LittleEndian.PutUint32(info[20:], uint32(os.Getuid()))
	binary.LittleEndian.PutUint64(info[24:], uint64(v))
	_, _, e := unix.Syscall(unix.SYS_RT_SIGQUEUEINFO, uintptr(pid), uintptr(sig), uintptr(unsafe.Pointer(&info[0])))
	if e != 0 {
		return e
	}
	return nil
}

// TestSiginfoPreserved sends signals in a tight loop to a single-threaded
// target (so the thread the engine borrows for dlopen and dlclose is the
// one with the SA_SIGINFO handler) while upgrades are applied and reverted:
// values queued with sigqueue must each arrive exactly once with si_code
// SI_QUEUE and their own si_value; signals sent with kill must each arrive
// once with si_code SI_USER and the sender's pid — including those held
// during the remote calls.
func TestSiginfoPreserved(t *testing.T) {
	f := setup(t)
	g := buildTarget(t, f, "testdata/sigq.c")
	const n = 20000
	sig := sigrtmin() + 6
	tests := []struct {
		name string
		send func(pid, v int) error
		want string
	}{
		{"sigqueue", func(pid, v int) error { return sigqueue(pid, sig, v) },
			fmt.Sprintf("report got=%d user=0 dup=0 missing=0 badcode=0 badval=0 badpid=0", n)},
		{"kill", func(pid, v int) error { return unix.Kill(pid, unix.Signal(sig)) },
			fmt.Sprintf("report got=%d user=%d dup=0 missing=%d badcode=0 badval=0 badpid=0", n, n, n)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startTarget(t, g)
			pid := tg.pid()
			sent := make(chan error, 1)
			go func() {
				for v := 1; v <= n; v++ {
					for {
						err := tt.send(pid, v)
						if err == unix.EAGAIN {
							time.Sleep(20 * time.Microsecond)
							continue
						}
						if err != nil {
							sent <- err
							return
						}
						break
					}
				}
				sent <- nil
			}()
			o := opts(t)
			ctx := context.Background()
			cycles := 0
			var serr error
			for done := false; !done || cycles < 4; cycles++ {
				mustStatus(t, "apply", Apply(ctx, pid, f.v1, f.v2, o), StatusOK)
				mustStatus(t, "revert", Revert(ctx, pid, f.v1, o), StatusOK)
				select {
				case serr = <-sent:
					done = true
				default:
				}
			}
			if serr != nil {
				t.Fatal(serr)
			}
			t.Logf("%d apply/revert cycles while %d signals were sent", cycles, n)
			askUntil(t, tg, fmt.Sprintf("report %d", n), tt.want)
		})
	}
}

// newMappings returns the start addresses of the mappings of offset 0 of
// the file at path in process pid: one per loaded copy.
func newMappings(t *testing.T, pid int, path string) []uint64 {
	t.Helper()
	maps, err := readMaps(pid)
	if err != nil {
		t.Fatal(err)
	}
	var starts []uint64
	for _, m := range maps {
		if m.path == path && m.offset == 0 {
			starts = append(starts, m.start)
		}
	}
	return starts
}

// TestRevertKeepsNew: a revert never unloads NEW, whose data objects made
// while it was in effect may point into (here a string NEW's ver_name
// returned, read after the revert: a crash if NEW were unmapped), and a
// later apply of the same build reuses the loaded copy; also after
// stacked upgrades, and with threads running OLD and NEW at full speed.
func TestRevertKeepsNew(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	t.Run("threads", func(t *testing.T) {
		tg := startTarget(t, f, "threads", "16")
		o := opts(t)
		var first []uint64
		for i := 0; i < 3; i++ {
			mustStatus(t, "apply", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
			if got := tg.ask("keep"); got != "keep libver 2" {
				t.Fatalf("after apply: %q", got)
			}
			r := Revert(ctx, tg.pid(), f.v1, o)
			mustStatus(t, "revert", r, StatusOK)
			if r.Reason != "" {
				t.Errorf("revert: %s", r.Reason)
			}
			if got := tg.ask("name"); got != "name libver 2 libver 1" {
				t.Fatalf("after revert: %q, want \"name libver 2 libver 1\"", got)
			}
			copies := newMappings(t, tg.pid(), f.v2)
			if i == 0 {
				first = copies
			}
			if len(copies) != 1 || copies[0] != first[0] {
				t.Fatalf("cycle %d: NEW mapped at %#x after revert, want once at %#x", i, copies, first)
			}
			want := "report vmin=1 vmax=1 sleeper=1 eintr=0 errors=0 counter=5"
			if got := tg.ask("report"); got != want {
				t.Fatalf("after revert: %q, want %q", got, want)
			}
		}
	})
	t.Run("stacked", func(t *testing.T) {
		tg := startTarget(t, f, "loop")
		tg.expect("version 1")
		o := opts(t)
		mustStatus(t, "apply v2", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
		tg.expect("version 2")
		mustStatus(t, "apply v3", Apply(ctx, tg.pid(), f.v1, f.v3, o), StatusOK)
		tg.expect("version 3")
		mustStatus(t, "revert v3", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
		tg.expect("version 2")
		r := Revert(ctx, tg.pid(), f.v1, o)
		mustStatus(t, "revert v2", r, StatusOK)
		tg.expect("version 1")
		if v2, v3 := newMappings(t, tg.pid(), f.v2), newMappings(t, tg.pid(), f.v3); len(v2) != 1 || len(v3) != 1 {
			t.Errorf("after reverting both: v2 mapped at %#x, v3 at %#x, want each once", v2, v3)
		}
	})
}

// procStates returns the state letter of every thread of process pid.
func procStates(t *testing.T, pid int) string {
	t.Helper()
	tids, err := listTasks(pid)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tid := range tids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(data), ')'); i >= 0 && i+2 < len(data) {
			b.WriteByte(data[i+2])
		}
	}
	return b.String()
}

// waitStates waits up to 2s for every thread of pid to be in state s.
func waitStates(t *testing.T, pid int, s byte) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		got = procStates(t, pid)
		if got != "" && strings.Count(got, string(s)) == len(got) {
			return
		}
	}
	t.Fatalf("thread states %q, want all %q", got, s)
}

// stopIn stops process pid with SIGSTOP; when inWait is true, at a moment
// its (only) thread is blocked in nanosleep, retrying (SIGCONT) otherwise.
func stopIn(t *testing.T, pid int, inWait bool) {
	t.Helper()
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatalf("could not stop the target inside nanosleep")
		}
		if inWait {
			if pt, err := readProcSyscall(pid, pid); err != nil || pt.running || pt.nr != unix.SYS_CLOCK_NANOSLEEP {
				time.Sleep(time.Millisecond)
				continue
			}
		}
		if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		waitStates(t, pid, 'T')
		if !inWait {
			return
		}
		if pt, err := readProcSyscall(pid, pid); err == nil && pt.nr == unix.SYS_CLOCK_NANOSLEEP {
			return
		}
		if err := unix.Kill(pid, unix.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGroupStop sends SIGSTOP to the target before an apply or a revert,
// or during the dlopen of NEW (whose constructor announces itself and
// takes 400ms): the operation succeeds, the process
// is still stopped afterwards (state T, not traced), prints nothing, and
// once continued runs NEW after the apply, OLD after the revert.
func TestGroupStop(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name   string
		mode   string // of the target
		revert bool
		during string // "" to stop before the operation, else the line to stop at
		busy   bool   // the operation must report busy, at once
	}{
		{"apply, stopped before", "sleep", false, "", false},
		{"apply, stopped during dlopen", "loop", false, "loading", false},
		{"revert, stopped before", "sleep", true, "", false},
		// A thread stopped inside OLD cannot be moved out of it.
		{"apply, stopped inside OLD", "forever", false, "", true},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, ",", ""), func(t *testing.T) {
			tg := startTarget(t, f, tt.mode)
			if tt.mode != "forever" {
				tg.expect("version 1")
			}
			pid := tg.pid()
			o := opts(t)
			ctx := context.Background()
			if tt.revert {
				mustStatus(t, "apply", Apply(ctx, pid, f.v1, f.announce, o), StatusOK)
				tg.expect("version 2")
			}
			if tt.during == "" {
				stopIn(t, pid, tt.mode == "sleep")
			}
			done := make(chan Result, 1)
			go func() {
				if tt.revert {
					done <- Revert(ctx, pid, f.v1, o)
				} else {
					done <- Apply(ctx, pid, f.v1, f.announce, o)
				}
			}()
			var seen []string // lines before tt.during
			if tt.during != "" {
				for l := range tg.lines {
					if strings.HasPrefix(l, tt.during) {
						break
					}
					seen = append(seen, l)
				}
				if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			r := <-done
			if tt.busy {
				mustStatus(t, "operation", r, StatusBusy)
				if !strings.Contains(r.Reason, "SIGSTOP") {
					t.Errorf("reason %q does not say the process is stopped", r.Reason)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("busy after %v: the engine waited for a stopped thread", d)
				}
				waitStates(t, pid, 'T')
				return
			}
			mustStatus(t, "operation", r, StatusOK)
			waitStates(t, pid, 'T')
			if tp := tracerOf(pid, pid); tp != 0 {
				t.Errorf("still traced by %d", tp)
			}
			time.Sleep(100 * time.Millisecond)
			waitStates(t, pid, 'T')
			select {
			case l := <-tg.lines:
				if !strings.HasPrefix(l, "loading") && !strings.HasPrefix(l, "unloading") {
					t.Errorf("the stopped target printed %q", l)
				}
			default:
			}
			if err := unix.Kill(pid, unix.SIGCONT); err != nil {
				t.Fatal(err)
			}
			if tt.revert {
				if !slices.Contains(seen, "version 1") {
					tg.expect("version 1")
				}
			} else {
				tg.expect("version 2")
			}
		})
	}
}
