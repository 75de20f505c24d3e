package gate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compatgate/compatgate/gate/queue"
)

// A build with another SONAME is installed beside OLD, under its own name
// with a SONAME link, never over OLD; the running daemon keeps OLD.
func TestUpgradeNewSonameInstalledBeside(t *testing.T) {
	w := newWorld(t)
	d := newDaemon(t, w.daemon)
	pid := d.start(t)
	v2 := w.build(t, "libdemo.so.2.0.0", "-DVERSION=2", "-DDROP", "-Wl,-soname,libdemo.so.2")
	v1 := filepath.Join(t.TempDir(), "v1.so")
	if err := Install(w.lib, v1); err != nil {
		t.Fatal(err)
	}
	u := &Upgrader{Queue: w.q}
	ctx := context.Background()
	req := Request{Library: w.lib, New: v2, Source: "/srv/releases/libdemo.so.2.0.0", Followers: Followers{PIDFiles: []string{d.pidFile}}, Restart: restartOf(d)}
	out, err := u.Upgrade(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	beside := filepath.Join(w.libDir, "libdemo.so.2.0.0")
	link := filepath.Join(w.libDir, "libdemo.so.2")
	if out.Decision.Action != Beside || out.Status != StatusOK || out.Beside != beside || out.Link != link || out.Entry != 0 {
		t.Fatalf("outcome: %+v", out)
	}
	if !strings.Contains(out.Decision.Reason, "relinked") {
		t.Errorf("the reason does not say clients must be relinked: %s", out.Decision.Reason)
	}
	if !sameFile(t, w.lib, v1) || !sameFile(t, beside, v2) {
		t.Fatal("OLD replaced, or NEW not installed beside it")
	}
	if target, err := os.Readlink(link); err != nil || target != "libdemo.so.2.0.0" {
		t.Errorf("SONAME link: %q %v", target, err)
	}
	if p, v := d.last(); p != pid || v != 1 {
		t.Errorf("the daemon was touched: pid %d version %d", p, v)
	}
	if es, _ := w.q.List(ctx, queue.Filter{}); len(es) != 0 {
		t.Errorf("%d entries queued", len(es))
	}
	// Again: the same, nothing replaced.
	if again, err := u.Upgrade(ctx, req); err != nil || !again.AlreadyInstalled || again.Installed {
		t.Errorf("again: %+v %v", again, err)
	}
	// A release named like OLD is installed under its SONAME, never over OLD.
	req.Source = "/srv/releases/libdemo.so.1"
	v3 := w.build(t, "v3.so", "-DVERSION=3", "-Wl,-soname,libdemo.so.3")
	req.New = v3
	if out, err := u.Upgrade(ctx, req); err != nil || out.Beside != filepath.Join(w.libDir, "libdemo.so.3") || out.Link != "" {
		t.Errorf("release named like OLD: %+v %v", out, err)
	}
	if !sameFile(t, w.lib, v1) {
		t.Fatal("OLD replaced")
	}
}

// A version older than the one installed is refused (audited, nothing
// installed) unless the request allows downgrades.
func TestUpgradeRefusesDowngrade(t *testing.T) {
	w := newWorld(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2")
	v3 := w.build(t, "v3.so", "-DVERSION=3")
	u := &Upgrader{Queue: w.q}
	ctx := context.Background()
	req := Request{Library: w.lib, New: v3, Version: "1.10.0", Followers: Followers{All: true}}
	if out, err := u.Upgrade(ctx, req); err != nil || !out.Installed {
		t.Fatalf("%+v %v", out, err)
	}
	req.New, req.Version = v2, "1.9.5"
	out, err := u.Upgrade(ctx, req)
	if err != nil || out.Decision.Action != Refuse || out.Status != StatusRefused || out.Installed || !strings.Contains(out.Decision.Reason, "1.9.5, older than the installed 1.10.0") {
		t.Fatalf("%+v %v", out, err)
	}
	if !sameFile(t, w.lib, v3) || !auditHas(t, w.q, "decide", "refuse", "downgrade refused") {
		t.Fatal("downgrade installed, or not audited")
	}
	req.AllowDowngrade = true
	if out, err := u.Upgrade(ctx, req); err != nil || !out.Installed || !sameFile(t, w.lib, v2) {
		t.Fatalf("allowed downgrade: %+v %v", out, err)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.10", "1.9", 1},
		{"1.0.1", "1.0", 1},
		{"1.0~rc1", "1.0", -1},
		{"2.0", "10.0", -1},
		{"1.02", "1.2", 0},
		{"1.0a", "1.0b", -1},
	}
	for _, tc := range tests {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestUnitOfCgroup(t *testing.T) {
	tests := []struct{ text, want string }{
		{"0::/system.slice/nginx.service\n", "nginx.service"},
		{"0::/system.slice/foo.service/sub\n", "foo.service"},
		{"12:pids:/\n1:name=systemd:/system.slice/db.service\n0::/\n", "db.service"},
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.service\n", ""},
		{"0::/\n", ""},
		{"0::/init.scope\n", ""},
	}
	for _, tc := range tests {
		if got := unitOfCgroup(tc.text); got != tc.want {
			t.Errorf("unitOfCgroup(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// With no restart action configured, a process in a systemd service is
// restarted with systemctl restart of its unit (found through its cgroup),
// and one outside any unit gets a manual entry, closed by the operator.
// Never is the upgrade dropped.
func TestUpgradeDefaultRestart(t *testing.T) {
	w := newWorld(t)
	d := newDaemon(t, w.daemon)
	pid := d.start(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2")
	u := &Upgrader{Queue: w.q}
	ctx := context.Background()
	req := Request{Library: w.lib, New: v2, Followers: Followers{PIDFiles: []string{d.pidFile}}}

	// Outside any unit: manual.
	out, err := u.Upgrade(ctx, req)
	if err != nil || out.Status != StatusQueued || out.Entry == 0 {
		t.Fatalf("%+v %v", out, err)
	}
	e, _ := w.q.Get(ctx, out.Entry)
	if e.State != queue.Manual || e.Restart.Kind != queue.ActionManual || len(e.Targets) != 1 {
		t.Fatalf("entry: %+v", e)
	}
	if err := w.q.MarkDone(queue.WithActor(ctx, "cli:op"), e.ID, ""); err != nil {
		t.Fatal(err)
	}

	// In a unit: systemctl restart UNIT. systemd does not run here: the
	// daemon is put in a cgroup of systemd's hierarchy, as systemd would,
	// and a systemctl in PATH records its arguments and restarts it.
	unit := "cgtest" + strconv.Itoa(os.Getpid()) + ".service"
	cg := ""
	for _, root := range []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		dir := filepath.Join(root, "system.slice", unit)
		if os.MkdirAll(dir, 0o755) == nil && os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644) == nil {
			cg = dir
			t.Cleanup(func() {
				b, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
				for _, p := range strings.Fields(string(b)) {
					os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(p), 0o644)
				}
				os.Remove(cg)
			})
			break
		}
		os.Remove(dir)
	}
	if cg == "" {
		t.Skip("cannot make a cgroup for the daemon here")
	}
	if got := SystemdUnit(pid); got != unit {
		t.Fatalf("SystemdUnit(%d) = %q, want %q", pid, got, unit)
	}
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\nkill $(cat %s); sleep 0.2\n%s\n", calls, d.pidFile, d.relaunch())
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	v3 := w.build(t, "v3.so", "-DVERSION=3")
	req.New = v3
	out, err = u.Upgrade(ctx, req)
	if err != nil || out.Status != StatusQueued {
		t.Fatalf("%+v %v", out, err)
	}
	e, _ = w.q.Get(ctx, out.Entry)
	if e.State != queue.Queued || e.Restart.Command != SystemctlRestart || len(e.Targets) != 1 || e.Targets[0].String() != "unit="+unit {
		t.Fatalf("entry: %+v", e)
	}
	res, err := (&queue.Executor{Queue: w.q, IgnoreWindows: true}).RunEntry(ctx, e.ID)
	if err != nil || res.Entry.State != queue.Done {
		t.Fatalf("%+v %v", res.Entry, err)
	}
	if b, _ := os.ReadFile(calls); strings.TrimSpace(string(b)) != "restart "+unit {
		t.Errorf("systemctl called with %q", b)
	}
	waitFor(t, 5*time.Second, "the daemon to run version 3", func() bool {
		p, v := d.last()
		return p != pid && v == 3
	})
}

// Upgrades of one library at once, from two processes' worth of queues,
// never fail on each other's files nor leave the library and its kept
// build the same; upgrade, rollback, upgrade leaves no temporary file.
func TestConcurrentUpgradesAndLeftovers(t *testing.T) {
	w := newWorld(t)
	va := w.build(t, "va.so", "-DVERSION=2")
	vb := w.build(t, "vb.so", "-DVERSION=3")
	ctx := context.Background()
	var us [2]*Upgrader
	for i := range us {
		q, err := queue.Open(ctx, w.state)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		us[i] = &Upgrader{Queue: q}
	}
	for round := range 10 {
		errs := make(chan error, 2)
		for i, v := range []string{va, vb} {
			go func() {
				_, err := us[i].Upgrade(ctx, Request{Library: w.lib, New: v, Followers: Followers{All: true}})
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if sameFile(t, w.lib, PrevPath(w.lib)) {
			t.Fatalf("round %d: the library and its kept build are the same", round)
		}
		if _, err := us[0].Rollback(ctx, w.lib); err != nil {
			t.Fatalf("round %d: rollback: %v", round, err)
		}
	}
	if _, err := us[0].Upgrade(ctx, Request{Library: w.lib, New: va, Followers: Followers{All: true}}); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(w.libDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "libdemo.so.1 libdemo.so.1.compatgate-prev" {
		t.Errorf("library directory holds %v", names)
	}
}
