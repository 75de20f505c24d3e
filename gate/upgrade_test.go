package gate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compatgate/compatgate/gate/queue"
)

// An incompatible upgrade (a function removed, same SONAME) is never
// installed by itself: it becomes one held entry naming the breaking
// findings, runs nothing until approved, and once approved the executor
// installs it right before restarting the daemon onto it. Asking again (a
// retry after a crash) queues nothing more.
func TestUpgradeIncompatibleIsHeld(t *testing.T) {
	w := newWorld(t)
	d := newDaemon(t, w.daemon)
	pid := d.start(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2", "-DDROP")
	v1 := filepath.Join(t.TempDir(), "v1.so")
	if err := Install(w.lib, v1); err != nil { // a copy, for comparison
		t.Fatal(err)
	}
	u := &Upgrader{Queue: w.q, Engine: InjectEngine{}}
	ctx := context.Background()
	req := Request{Library: w.lib, New: v2, HotApply: true, Followers: Followers{PIDFiles: []string{d.pidFile}},
		Restart: restartOf(d), Health: queue.Health{Command: "sleep 0.1; kill -0 $(cat " + d.pidFile + ")"}}

	dry := req
	dry.DryRun = true
	out, err := (&Upgrader{}).Upgrade(ctx, dry)
	if err != nil {
		t.Fatal(err)
	}
	if out.Decision.Action != Hold || len(out.Processes) != 1 || out.Processes[0].Plan != "restart" || out.Installed {
		t.Fatalf("dry run: %+v", out)
	}

	out, err = u.Upgrade(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if out.Decision.Action != Hold || out.Status != StatusHeld || out.Installed || len(out.Processes) != 1 ||
		out.Processes[0].PID != pid || out.Processes[0].Status != StatusHeld || out.Entry == 0 {
		t.Fatalf("outcome: %+v", out)
	}
	if !sameFile(t, w.lib, v1) {
		t.Fatal("an incompatible build was installed before approval")
	}
	e, err := w.q.Get(ctx, out.Entry)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != queue.Held || !strings.Contains(e.Findings, "symbol-removed") || !strings.Contains(e.Findings, "lib_extra") ||
		e.Install.IsZero() || !sameFile(t, e.Install.From, v2) {
		t.Fatalf("entry: %+v", e)
	}
	if !auditHas(t, w.q, "decide", "hold", "symbol-removed") {
		t.Errorf("the decision's audit entry does not list the finding:\n%s", dumpAudit(t, w.q))
	}
	// Again (as after a crash): the same held entry.
	again, err := u.Upgrade(ctx, req)
	if err != nil || again.Entry != out.Entry || again.Status != StatusHeld {
		t.Fatalf("second upgrade: %+v %v", again, err)
	}
	x := &queue.Executor{Queue: w.q, IgnoreWindows: true, Install: u.InstallEntry}
	if res, err := x.RunDue(ctx); err != nil || len(res) != 0 {
		t.Fatalf("a held entry ran: %+v %v", res, err)
	}
	if err := w.q.Approve(queue.WithActor(ctx, "cli:alice"), out.Entry, ""); err != nil {
		t.Fatal(err)
	}
	res, err := x.RunEntry(ctx, out.Entry)
	if err != nil || res.Entry.State != queue.Done {
		t.Fatalf("run: %+v %v\n%s", res, err, dumpAudit(t, w.q))
	}
	if !sameFile(t, w.lib, v2) || !sameFile(t, PrevPath(w.lib), v1) {
		t.Error("NEW not installed on approval, or OLD not kept")
	}
	waitFor(t, 5*time.Second, "the restarted daemon to report version 2", func() bool {
		p, v := d.last()
		return p != pid && v == 2
	})
	// Once more: the daemon runs NEW; nothing left to do for it.
	last, err := u.Upgrade(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(last.Processes) != 1 || last.Processes[0].Status != StatusNotChanged || last.Entry != 0 {
		t.Errorf("upgrade after the restart: %+v", last.Processes)
	}
	if es, _ := w.q.List(ctx, queue.Filter{}); len(es) != 1 {
		t.Fatalf("%d entries, want 1", len(es))
	}
}

// An approved upgrade is not installed over a library that changed since
// it was held: the entry fails, the library stays.
func TestHeldInstallRefusesChangedLibrary(t *testing.T) {
	w := newWorld(t)
	d := newDaemon(t, w.daemon)
	d.start(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2", "-DDROP")
	v3 := w.build(t, "v3.so", "-DVERSION=3")
	u := &Upgrader{Queue: w.q}
	ctx := context.Background()
	req := Request{Library: w.lib, New: v2, Followers: Followers{PIDFiles: []string{d.pidFile}}, Restart: restartOf(d)}
	held, err := u.Upgrade(ctx, req)
	if err != nil || held.Status != StatusHeld {
		t.Fatalf("%+v %v", held, err)
	}
	req.New = v3
	if out, err := u.Upgrade(ctx, req); err != nil || !out.Installed {
		t.Fatalf("%+v %v", out, err)
	}
	if err := w.q.Approve(ctx, held.Entry, ""); err != nil {
		t.Fatal(err)
	}
	res, err := (&queue.Executor{Queue: w.q, IgnoreWindows: true, Install: u.InstallEntry}).RunEntry(ctx, held.Entry)
	if err != nil || res.Entry.State != queue.Failed || !strings.Contains(res.Entry.LastError, "changed since the upgrade was held") {
		t.Fatalf("%+v %v", res.Entry, err)
	}
	if !sameFile(t, w.lib, v3) {
		t.Error("the held build replaced the newer one")
	}
}

// A failing health check stops the rollout at the first daemon; rollback
// reinstalls the previous build and cancels nothing that ran.
func TestHealthFailureAndRollback(t *testing.T) {
	w := newWorld(t)
	d1, d2 := newDaemon(t, w.daemon), newDaemon(t, w.daemon)
	pid1, pid2 := d1.start(t), d2.start(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2") // compatible: installed at once
	ctx := context.Background()
	u := &Upgrader{Queue: w.q}
	// One relaunch command for both: the target's PID file says which.
	relaunch := w.daemon + ` "$COMPATGATE_TARGET_VALUE" "$(dirname "$COMPATGATE_TARGET_VALUE")/daemon.out" </dev/null >/dev/null 2>&1 &`
	out, err := u.Upgrade(ctx, Request{Library: w.lib, New: v2,
		Followers: Followers{PIDFiles: []string{d1.pidFile, d2.pidFile}},
		Restart:   queue.Action{Kind: queue.ActionSignal, Signal: "TERM", Command: relaunch},
		Health:    queue.Health{Command: "echo unhealthy >&2; exit 1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Processes) != 2 || out.Entry == 0 {
		t.Fatalf("outcome: %+v", out)
	}
	res, err := (&queue.Executor{Queue: w.q}).RunEntry(ctx, out.Entry)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entry.State != queue.Failed || res.Entry.Progress != 0 || !strings.Contains(res.Entry.LastError, "health check failed") {
		t.Fatalf("entry: %+v", res.Entry)
	}
	waitFor(t, 5*time.Second, "the first daemon to restart onto version 2", func() bool {
		p, v := d1.last()
		return p != pid1 && v == 2
	})
	if p, v := d2.last(); p != pid2 || v != 1 {
		t.Errorf("second daemon: pid %d version %d; the rollout should have stopped before it", p, v)
	}

	rb, err := u.Rollback(ctx, w.lib)
	if err != nil {
		t.Fatal(err)
	}
	if !rb.Restored || rb.Status != StatusOK || !sameFile(t, w.lib, PrevPath(w.lib)) {
		t.Fatalf("rollback: %+v", rb)
	}
	if len(rb.Restarted) != 1 || rb.Restarted[0] == pid1 {
		t.Errorf("rollback lists %v as restarted onto the rolled-back build, want the first daemon's new PID", rb.Restarted)
	}
	if rb.From.BuildID == rb.To.BuildID {
		t.Error("rollback: from and to are the same build")
	}
	if !auditHas(t, w.q, "rollback", "ok", "reinstalled") {
		t.Errorf("no rollback in the audit log:\n%s", dumpAudit(t, w.q))
	}
	// Again: nothing to do, still fine.
	if rb, err = u.Rollback(ctx, w.lib); err != nil || rb.Restored {
		t.Errorf("second rollback: %+v %v", rb, err)
	}
	// A library never upgraded has nothing to roll back.
	if _, err := u.Rollback(ctx, w.builds+"/v2.so"); err == nil || !strings.Contains(err.Error(), "no previous build") {
		t.Errorf("rollback without previous build: %v", err)
	}
}

// A library reached through a symbolic link is upgraded in the file the
// link leads to; the link stays.
func TestUpgradeFollowsSymlink(t *testing.T) {
	requireGCC(t)
	dir := t.TempDir()
	real := buildLib(t, dir, "libdemo.so.1.0.0", "-DVERSION=1")
	link := dir + "/libdemo.so.1"
	if err := os.Symlink("libdemo.so.1.0.0", link); err != nil {
		t.Fatal(err)
	}
	v2 := buildLib(t, t.TempDir(), "v2.so", "-DVERSION=2")
	v1 := filepath.Join(t.TempDir(), "v1.so")
	if err := Install(real, v1); err != nil { // a copy, for comparison
		t.Fatal(err)
	}
	q, err := queue.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out, err := (&Upgrader{Queue: q}).Upgrade(context.Background(), Request{Library: link, New: v2, Followers: Followers{All: true}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Library != real || !out.Installed {
		t.Errorf("outcome: library %s installed %v", out.Library, out.Installed)
	}
	if target, err := os.Readlink(link); err != nil || target != "libdemo.so.1.0.0" {
		t.Errorf("link now %q, %v", target, err)
	}
	if !sameFile(t, real, v2) || !sameFile(t, PrevPath(real), v1) {
		t.Error("the link's target was not upgraded, or its previous build not kept")
	}
}
