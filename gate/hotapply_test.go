package gate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/compatgate/compatgate/gate/inject"
	"github.com/compatgate/compatgate/gate/queue"
)

// requireEngine skips the test when this host cannot hot-apply: the engine
// answers for a process it cannot trace with an error naming ptrace.
func requireEngine(t *testing.T, r ProcessResult) {
	t.Helper()
	if r.Status == StatusError && (strings.Contains(r.Reason, "not permitted") || strings.Contains(r.Reason, "not supported")) {
		t.Skipf("hot-apply unavailable here (ptrace): %s", r.Reason)
	}
}

// A compatible upgrade is hot-applied to the running daemon: same PID, new
// behaviour; rollback reverts it in the process and reinstalls the file.
func TestUpgradeHotApplyAndRollback(t *testing.T) {
	w := newWorld(t)
	d := newDaemon(t, w.daemon)
	pid := d.start(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2")
	ctx := context.Background()
	u := &Upgrader{Queue: w.q, Engine: InjectEngine{Options: inject.Options{StateDir: w.state}}}
	out, err := u.Upgrade(ctx, Request{Library: w.lib, New: v2, HotApply: true, Followers: Followers{All: true}, Restart: restartOf(d)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Processes) != 1 {
		t.Fatalf("processes: %+v", out.Processes)
	}
	requireEngine(t, out.Processes[0])
	if out.Decision.Action != HotApply || out.Status != StatusOK || out.Processes[0].PID != pid || out.Entry != 0 {
		t.Fatalf("outcome: %+v\n%+v", out, out.Processes)
	}
	waitFor(t, 5*time.Second, "the daemon to report version 2 under the same PID", func() bool {
		p, v := d.last()
		return p == pid && v == 2
	})
	if es, _ := w.q.List(ctx, queue.Filter{}); len(es) != 0 {
		t.Errorf("%d queue entries after a hot-apply", len(es))
	}

	// A second hot upgrade, onto the first: OLD is now the copy the
	// engine loaded.
	v3 := w.build(t, "v3.so", "-DVERSION=3")
	out, err = u.Upgrade(ctx, Request{Library: w.lib, New: v3, HotApply: true, Followers: Followers{All: true}, Restart: restartOf(d)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != StatusOK || len(out.Processes) != 1 || out.Processes[0].Status != StatusOK {
		t.Fatalf("second upgrade: %+v", out.Processes)
	}
	waitFor(t, 5*time.Second, "the daemon to report version 3 under the same PID", func() bool {
		p, v := d.last()
		return p == pid && v == 3
	})

	rb, err := u.Rollback(ctx, w.lib)
	if err != nil {
		t.Fatal(err)
	}
	if !rb.Restored || rb.Status != StatusOK || len(rb.Processes) != 1 || rb.Processes[0].Status != StatusOK {
		t.Fatalf("rollback: %+v %+v", rb, rb.Processes)
	}
	waitFor(t, 5*time.Second, "the daemon to report version 2 again under the same PID", func() bool {
		p, v := d.last()
		return p == pid && v == 2
	})
	if !sameFile(t, w.lib, v2) {
		t.Error("rollback did not reinstall v2")
	}
}

// With every private layout compared and unchanged (debug information for
// both builds), the gate hot-applies in the drain model: a thread parked
// inside OLD does not make the process busy; it goes on there while new
// calls run NEW. Without debug information (allowed by
// hot_apply_without_debug) the layouts are unknown, so the engine waits for
// every thread to leave OLD: the parked thread makes the process busy, and
// a restart is queued.
func TestUpgradeDrainsOnlyWithKnownLayouts(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  Status
	}{
		{"layouts compared", []string{"-DVERSION=2"}, StatusOK},
		{"no debug information", []string{"-DVERSION=2", "-g0"}, StatusQueued},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			d := newDaemon(t, w.daemon)
			d.env = "DEMO_PARK=1"
			pid := d.start(t)
			v2 := w.build(t, "v2.so", tc.flags...)
			u := &Upgrader{Queue: w.q, Engine: InjectEngine{Options: inject.Options{StateDir: w.state, BusyTimeout: 300 * time.Millisecond}}}
			out, err := u.Upgrade(context.Background(), Request{Library: w.lib, New: v2, HotApply: true, HotApplyWithoutDebug: true,
				Followers: Followers{All: true}, Restart: restartOf(d)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Processes) != 1 {
				t.Fatalf("processes: %+v", out.Processes)
			}
			requireEngine(t, out.Processes[0])
			if out.Decision.Action != HotApply || out.Status != tc.want {
				t.Fatalf("decision %s (drain %v), status %s, want hot-apply and %s: %+v", out.Decision.Action, out.Decision.Drain, out.Status, tc.want, out.Processes)
			}
			if tc.want == StatusOK {
				waitFor(t, 5*time.Second, "the daemon to report version 2 under the same PID", func() bool {
					p, v := d.last()
					return p == pid && v == 2
				})
			} else if !strings.Contains(out.Processes[0].Reason, "busy") {
				t.Errorf("reason %q does not say busy", out.Processes[0].Reason)
			}
		})
	}
}
