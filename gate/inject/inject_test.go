//go:build linux && amd64

package inject

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSingleThreadApplyRevert(t *testing.T) {
	for _, cflag := range []string{"-fcf-protection=full", "-fcf-protection=none"} {
		t.Run(cflag, func(t *testing.T) { testSingleThread(t, setupWith(t, cflag)) })
	}
}

func testSingleThread(t *testing.T, f *fixture) {
	tg := startTarget(t, f, "loop")
	tg.expect("version 1")
	o := opts(t)
	ctx := context.Background()
	r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
	mustStatus(t, "apply", r, StatusOK)
	if r.Functions == 0 {
		t.Errorf("apply redirected no function")
	}
	tg.expect("version 2")
	if q := Query(tg.pid(), o); q.Status != StatusOK || len(q.Applied) != 1 || !q.Applied[0].Intact {
		t.Errorf("query after apply: %+v", q)
	}
	mustStatus(t, "second apply", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusNotChanged)
	mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	tg.expect("version 1")
	mustStatus(t, "second revert", Revert(ctx, tg.pid(), f.v1, o), StatusNotChanged)
	if q := Query(tg.pid(), o); q.Status != StatusNotChanged || len(q.Applied) != 0 {
		t.Errorf("query after revert: %+v", q)
	}
	// And once more: re-applying after a revert works.
	mustStatus(t, "re-apply", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
	tg.expect("version 2")
}

func TestThreadsApplyRevert(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "threads", "16")
	want := "report vmin=1 vmax=1 sleeper=1 eintr=0 errors=0 counter=5"
	if got := tg.ask("report"); got != want {
		t.Fatalf("before: %q, want %q", got, want)
	}
	o := opts(t)
	ctx := context.Background()
	r := Apply(ctx, tg.pid(), f.v1, f.v2, o)
	mustStatus(t, "apply", r, StatusOK)
	t.Logf("apply: %d functions, world stopped %dµs", r.Functions, r.StoppedMicros)
	// Every worker, the thread in nanosleep and the main thread (blocked
	// in read when the upgrade happened) now run version 2 with no EINTR;
	// the exported counter kept its value.
	want = "report vmin=2 vmax=2 sleeper=2 eintr=0 errors=0 counter=5"
	if got := tg.ask("report"); got != want {
		t.Fatalf("after apply: %q, want %q", got, want)
	}
	if got := tg.ask("bump"); got != "bump 6 6" {
		t.Fatalf("NEW's ver_bump did not use the process's counter: %q, want \"bump 6 6\"", got)
	}
	mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	want = "report vmin=1 vmax=1 sleeper=1 eintr=0 errors=0 counter=6"
	if got := tg.ask("report"); got != want {
		t.Fatalf("after revert: %q, want %q", got, want)
	}
	if got := tg.ask("bump"); got != "bump 7 7" {
		t.Fatalf("after revert: %q, want \"bump 7 7\"", got)
	}
}

// TestManyThreadsApplyRevert upgrades and reverts, twice, a process
// with enough threads calling OLD at full speed that their stacks are read
// on two CPUs (see stackReader) and some are caught inside OLD when the
// world is stopped.
func TestManyThreadsApplyRevert(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "threads", strconv.Itoa(helpedThreads+8))
	o := opts(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		mustStatus(t, fmt.Sprintf("apply %d", i), Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
		if got, want := tg.ask("report"), "vmin=2 vmax=2 sleeper=2 eintr=0 errors=0"; !strings.Contains(got, want) {
			t.Fatalf("after apply %d: %q, want %q", i, got, want)
		}
		mustStatus(t, fmt.Sprintf("revert %d", i), Revert(ctx, tg.pid(), f.v1, o), StatusOK)
		if got, want := tg.ask("report"), "vmin=1 vmax=1 sleeper=1 eintr=0 errors=0"; !strings.Contains(got, want) {
			t.Fatalf("after revert %d: %q, want %q", i, got, want)
		}
	}
}

// snapshot is what "untouched" means: the same mappings, the same text.
func snapshot(t *testing.T, pid int, f *fixture) string {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	return string(maps) + oldText(t, pid, f)
}

// oldText returns the bytes of OLD's executable mappings in process pid.
func oldText(t *testing.T, pid int, f *fixture) string {
	t.Helper()
	ms, err := readMaps(pid)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	var b strings.Builder
	for _, m := range ms {
		if m.exec() && m.path == f.v1 {
			text := make([]byte, m.end-m.start)
			if _, err := mem.ReadAt(text, int64(m.start)); err != nil {
				t.Fatal(err)
			}
			b.Write(text)
		}
	}
	if b.Len() == 0 {
		t.Fatalf("process %d does not map %s", pid, f.v1)
	}
	return b.String()
}

func TestUntouched(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name     string
		mode     string
		old, new func(*fixture) string
		want     Status
		reason   string
	}{
		{"function never returns", "forever", (*fixture).oldLib, (*fixture).newLib, StatusBusy, "executing OLD code"},
		{"blocked inside OLD", "block", (*fixture).oldLib, (*fixture).newLib, StatusBusy, "return address"},
		{"build-id mismatch", "loop", func(f *fixture) string { return f.other }, (*fixture).newLib, StatusRefused, "not OLD's build"},
		{"private state", "loop", (*fixture).oldLib, func(f *fixture) string { return f.private }, StatusRefused, "private_calls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startTarget(t, f, tt.mode)
			tg.expect("version 1")
			before := snapshot(t, tg.pid(), f)
			start := time.Now()
			o := opts(t)
			o.BusyTimeout = 300 * time.Millisecond
			r := Apply(context.Background(), tg.pid(), tt.old(f), tt.new(f), o)
			mustStatus(t, "apply", r, tt.want)
			if !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", r.Reason, tt.reason)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("apply took %v", d)
			}
			if after := snapshot(t, tg.pid(), f); after != before {
				t.Errorf("process changed: mappings or OLD's text differ")
			}
			select {
			case l := <-tg.lines:
				t.Errorf("target printed %q", l)
			default:
			}
		})
	}
}

func TestNotMapped(t *testing.T) {
	f := setup(t)
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	r := Apply(context.Background(), cmd.Process.Pid, f.v1, f.v2, opts(t))
	mustStatus(t, "apply", r, StatusNotLoaded)
	mustStatus(t, "revert", Revert(context.Background(), cmd.Process.Pid, f.v1, opts(t)), StatusNotLoaded)
}

func TestProcessExits(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name string
		mode string
		new  string
		kill time.Duration // kill the target after this long, if non-zero
	}{
		{"exits while loading NEW", "loop", f.exit, 0},
		{"killed while busy", "forever", f.v2, 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startTarget(t, f, tt.mode)
			o := opts(t)
			o.BusyTimeout = 3 * time.Second
			if tt.kill > 0 {
				timer := time.AfterFunc(tt.kill, func() { tg.cmd.Process.Kill() })
				defer timer.Stop()
			}
			start := time.Now()
			r := Apply(context.Background(), tg.pid(), f.v1, tt.new, o)
			mustStatus(t, "apply", r, StatusError)
			if !strings.Contains(r.Reason, "exited") {
				t.Errorf("reason %q does not say the process exited", r.Reason)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("apply took %v", d)
			}
		})
	}
}

func TestStackedUpgrades(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "loop")
	tg.expect("version 1")
	o := opts(t)
	ctx := context.Background()
	mustStatus(t, "apply v2", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
	tg.expect("version 2")
	mustStatus(t, "apply v3", Apply(ctx, tg.pid(), f.v1, f.v3, o), StatusOK)
	tg.expect("version 3")
	if q := Query(tg.pid(), o); len(q.Applied) != 2 || q.Status != StatusOK {
		t.Errorf("query: %+v", q)
	}
	// Another state directory has no journal, but the patched text is seen.
	if r := Revert(ctx, tg.pid(), f.v1, opts(t)); r.Status != StatusError || !strings.Contains(r.Reason, "no upgrade is journaled") {
		t.Errorf("revert with another state directory: %s (%s)", r.Status, r.Reason)
	}
	mustStatus(t, "revert v3", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	tg.expect("version 2")
	mustStatus(t, "revert v2", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	tg.expect("version 1")
}

// TestDeletedMapping upgrades a process whose library file was replaced on
// disk by the new version, as a package upgrade does: the process maps
// "libver.so.1 (deleted)"; OLD is a copy of the old build elsewhere and NEW
// is at the path the process originally loaded OLD from.
func TestDeletedMapping(t *testing.T) {
	f := setup(t)
	dir := t.TempDir()
	lib := filepath.Join(dir, "libver.so.1")
	copyFile(t, f.v1, lib)
	tgt := filepath.Join(dir, "target")
	if err := gcc("-O2", "-pthread", "-o", tgt, "testdata/target.c", lib, "-Wl,-rpath,"+dir); err != nil {
		t.Fatal(err)
	}
	g := *f
	g.target = tgt
	tg := startTarget(t, &g, "loop")
	tg.expect("version 1")
	// Replace the library the way package managers do: new file, rename.
	copyFile(t, f.v2, lib+".tmp")
	if err := os.Rename(lib+".tmp", lib); err != nil {
		t.Fatal(err)
	}
	o := opts(t)
	mustStatus(t, "apply", Apply(context.Background(), tg.pid(), f.v1, lib, o), StatusOK)
	tg.expect("version 2")
	mustStatus(t, "revert", Revert(context.Background(), tg.pid(), f.v1, o), StatusOK)
	tg.expect("version 1")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestLocalOldRefused upgrades a process that loaded OLD with
// dlopen(RTLD_LOCAL): NEW's exported counter would not bind to OLD's, so the
// engine refuses, and NEW is unloaded again.
func TestLocalOldRefused(t *testing.T) {
	f := setup(t)
	dir := t.TempDir()
	plugin := filepath.Join(dir, "plugin")
	if err := gcc("-O2", "-o", plugin, "testdata/plugin.c"); err != nil {
		t.Fatal(err)
	}
	g := *f
	g.target = plugin
	tg := startTarget(t, &g, f.v1)
	tg.expect("version 1")
	before := oldText(t, tg.pid(), f)
	r := Apply(context.Background(), tg.pid(), f.v1, f.v2, opts(t))
	mustStatus(t, "apply", r, StatusRefused)
	if !strings.Contains(r.Reason, "ver_counter") {
		t.Errorf("reason %q does not name the variable", r.Reason)
	}
	if maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", tg.pid())); strings.Contains(string(maps), f.v2) {
		t.Errorf("NEW is still mapped after the refusal")
	}
	if oldText(t, tg.pid(), f) != before {
		t.Errorf("OLD's text changed")
	}
	select {
	case l := <-tg.lines:
		t.Errorf("target printed %q", l)
	default:
	}
}

// TestWatchdog: dlopen of a NEW whose constructor takes longer than the
// call timeout. The call is never cut short (the thread holds the loader's
// lock while constructors run): when it returns within the timeout again,
// NEW is unloaded at once; else the thread is left to finish the call and
// restore itself. Either way apply fails with a clear reason, the process
// carries on with OLD, and its loader is usable again: a normal upgrade
// afterwards (which runs dlopen in it) succeeds.
func TestWatchdog(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name    string
		new     string
		timeout time.Duration
		reason  string
		mapped  bool // NEW is still mapped right after the failed apply
	}{
		{"returns after the timeout", f.late, 500 * time.Millisecond, "NEW is unloaded again", false},
		{"does not return in time", f.slow, 300 * time.Millisecond, "restores itself", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startTarget(t, f, "loop")
			tg.expect("version 1")
			o := opts(t)
			o.CallTimeout = tt.timeout
			start := time.Now()
			r := Apply(context.Background(), tg.pid(), f.v1, tt.new, o)
			mustStatus(t, "apply", r, StatusError)
			if !strings.Contains(r.Reason, "did not return") || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("reason %q does not mention the timeout and %q", r.Reason, tt.reason)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("apply took %v", d)
			}
			maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", tg.pid()))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(maps), tt.new) != tt.mapped {
				t.Errorf("NEW mapped after the failed apply: %v, want %v", !tt.mapped, tt.mapped)
			}
			if q := Query(tg.pid(), o); q.Status != StatusNotChanged {
				t.Errorf("query: %+v", q)
			}
			// The process still runs OLD, and a normal upgrade afterwards
			// works (once the slow constructor has finished).
			o2 := opts(t)
			mustStatus(t, "apply", Apply(context.Background(), tg.pid(), f.v1, f.v2, o2), StatusOK)
			tg.expect("version 2")
			mustStatus(t, "revert", Revert(context.Background(), tg.pid(), f.v1, o2), StatusOK)
			tg.expect("version 1")
		})
	}
}

func TestPolicy(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name, old, new string
		refuse         string // "" when accepted
	}{
		{"compatible", f.v1, f.v2, ""},
		{"private state", f.v1, f.private, "private_calls"},
		{"function missing in NEW", f.other, f.v2, "does not export function ver_variant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldImg, err := openImage(tt.old)
			if err != nil {
				t.Fatal(err)
			}
			defer oldImg.close()
			newImg, err := openImage(tt.new)
			if err != nil {
				t.Fatal(err)
			}
			defer newImg.close()
			err = refuseData(oldImg, newImg)
			if err == nil {
				_, err = planSites(oldImg, newImg, nil)
			}
			switch {
			case tt.refuse == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.refuse != "" && (err == nil || !strings.Contains(err.Error(), tt.refuse)):
				t.Errorf("got %v, want a refusal mentioning %q", err, tt.refuse)
			}
		})
	}
}

// TestOldByCopy names OLD by a copy under another file name: it is matched
// by SONAME and build-id.
func TestOldByCopy(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "loop")
	tg.expect("version 1")
	backup := filepath.Join(t.TempDir(), "libver-backup.so")
	copyFile(t, f.v1, backup)
	o := opts(t)
	mustStatus(t, "apply", Apply(context.Background(), tg.pid(), backup, f.v2, o), StatusOK)
	tg.expect("version 2")
	mustStatus(t, "revert", Revert(context.Background(), tg.pid(), backup, o), StatusOK)
	tg.expect("version 1")
}

// TestBlockedThreadsOnly upgrades processes whose threads are all blocked
// in system calls, so dlopen runs in a thread interrupted inside read(2) or
// nanosleep(2): the call must resume transparently afterwards.
func TestBlockedThreadsOnly(t *testing.T) {
	f := setup(t)
	t.Run("read and nanosleep", func(t *testing.T) {
		tg := startTarget(t, f, "threads", "0")
		o := opts(t)
		mustStatus(t, "apply", Apply(context.Background(), tg.pid(), f.v1, f.v2, o), StatusOK)
		want := "report vmin=99 vmax=-1 sleeper=2 eintr=0 errors=0 counter=5"
		if got := tg.ask("report"); got != want {
			t.Fatalf("after apply: %q, want %q", got, want)
		}
		if got := tg.ask("bump"); got != "bump 6 6" {
			t.Fatalf("bump: %q", got)
		}
		mustStatus(t, "revert", Revert(context.Background(), tg.pid(), f.v1, o), StatusOK)
		want = "report vmin=99 vmax=-1 sleeper=1 eintr=0 errors=0 counter=6"
		if got := tg.ask("report"); got != want {
			t.Fatalf("after revert: %q, want %q", got, want)
		}
	})
	t.Run("nanosleep only", func(t *testing.T) {
		tg := startTarget(t, f, "sleep")
		tg.expect("version 1")
		o := opts(t)
		for i := 0; i < 5; i++ {
			mustStatus(t, "apply", Apply(context.Background(), tg.pid(), f.v1, f.v2, o), StatusOK)
			tg.expect("version 2")
			mustStatus(t, "revert", Revert(context.Background(), tg.pid(), f.v1, o), StatusOK)
			tg.expect("version 1")
		}
	})
}

// TestInterruptedApply simulates an engine that died in the middle of its
// writes: the journal says "applying" and one word still holds its old
// bytes. Apply refuses to stack on it; Revert completes the rollback.
func TestInterruptedApply(t *testing.T) {
	f := setup(t)
	tg := startTarget(t, f, "loop")
	tg.expect("version 1")
	before := oldText(t, tg.pid(), f)
	o := opts(t)
	ctx := context.Background()
	mustStatus(t, "apply", Apply(ctx, tg.pid(), f.v1, f.v2, o), StatusOK)
	tg.expect("version 2")

	start, err := processStartTime(tg.pid())
	if err != nil {
		t.Fatal(err)
	}
	j, err := loadJournal(o.StateDir, tg.pid(), start)
	if err != nil || len(j.Generations) != 1 {
		t.Fatalf("journal: %v %+v", err, j)
	}
	j.Generations[0].State = genApplying
	if err := j.save(); err != nil {
		t.Fatal(err)
	}
	w := j.Generations[0].Writes[0]
	mem, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", tg.pid()), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mem.WriteAt(w.Old[:], int64(w.Addr))
	mem.Close()
	if err != nil {
		t.Fatal(err)
	}

	if r := Apply(ctx, tg.pid(), f.v1, f.v2, o); r.Status != StatusError || !strings.Contains(r.Reason, "interrupted") {
		t.Errorf("apply over an interrupted operation: %s (%s)", r.Status, r.Reason)
	}
	if q := Query(tg.pid(), o); q.Status != StatusError {
		t.Errorf("query: %+v", q)
	}
	mustStatus(t, "revert", Revert(ctx, tg.pid(), f.v1, o), StatusOK)
	tg.expect("version 1")
	if oldText(t, tg.pid(), f) != before {
		t.Errorf("OLD's text not restored exactly")
	}
}
