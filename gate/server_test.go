package gate

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compatgate/compatgate/gate/inject"
	"github.com/compatgate/compatgate/gate/queue"
)

// subscription returns a subscription of w's library followed by d.
func (w *world) subscription(d *daemon, hot bool) Subscription {
	return Subscription{Name: "libdemo", Path: w.lib, Releases: w.releases, HotApply: hot,
		Followers: Followers{PIDFiles: []string{d.pidFile}},
		Restart:   RestartConfig{Signal: "TERM", Command: d.relaunch()},
		Health:    HealthConfig{Command: "sleep 0.1; kill -0 $(cat " + d.pidFile + ")"},
		Window:    WindowConfig{Cron: "* * * * *", Duration: Duration(time.Hour)}}
}

// serve runs a server until the test ends or stop is called, and checks
// that it stops cleanly when told to.
func (w *world) serve(t *testing.T, c *Config, now func() time.Time) (stop func()) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s := &Server{Config: c, Settle: 50 * time.Millisecond, Logger: log,
		Upgrader: &Upgrader{Queue: w.q, Logger: log, Engine: InjectEngine{Options: inject.Options{StateDir: w.state}}},
		Executor: &queue.Executor{Queue: w.q, Logger: log, Now: now}}
	ctx, cancel := context.WithCancel(queue.WithActor(context.Background(), "serve"))
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("serve did not stop within 10s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestServe drops releases into a watched directory: a compatible one is
// hot-applied (same PID, new behaviour), one with a bad checksum is
// refused with an audit entry, an incompatible one is held — not installed,
// not run — until approved, then installed and run in its window (new PID,
// new behaviour) once the window opens.
func TestServe(t *testing.T) {
	w := newWorld(t)
	d := newDaemon(t, w.daemon)
	pid := d.start(t)
	v2 := w.build(t, "v2.so", "-DVERSION=2")
	v3 := w.build(t, "v3.so", "-DVERSION=3", "-DDROP")
	// The window opens at 03:00 for an hour; the executor's clock is moved
	// into it when the test says.
	var inWindow atomic.Bool
	now := func() time.Time {
		y, m, dd := time.Now().Date()
		if inWindow.Load() {
			return time.Date(y, m, dd, 3, 30, 0, 0, time.Local)
		}
		return time.Date(y, m, dd, 12, 0, 0, 0, time.Local)
	}
	sub := w.subscription(d, true)
	sub.Window = WindowConfig{Cron: "0 3 * * *", Duration: Duration(time.Hour)}
	w.serve(t, &Config{Poll: Duration(50 * time.Millisecond), Libraries: []Subscription{sub}}, now)

	// The release file alone is not taken: its checksum file is awaited.
	b, err := os.ReadFile(v2)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.releases, "libdemo.so.1.2"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if evs, _ := w.q.AuditLog(context.Background(), queue.AuditFilter{}); len(evs) != 0 || sameFile(t, w.lib, v2) {
		t.Fatalf("a release without its checksum file was acted on:\n%s", dumpAudit(t, w.q))
	}
	writeRelease(t, w.releases, "libdemo.so.1.2", v2)
	waitFor(t, 10*time.Second, "the release to be hot-applied or to fail", func() bool {
		p, v := d.last()
		return (p == pid && v == 2) || auditHas(t, w.q, "hot-apply", "error", "")
	})
	if evs, _ := w.q.AuditLog(context.Background(), queue.AuditFilter{}); auditHas(t, w.q, "hot-apply", "error", "") {
		for _, ev := range evs {
			if ev.Action == "hot-apply" && strings.Contains(ev.Detail, "not permitted") {
				t.Skipf("hot-apply unavailable here (ptrace): %s", ev.Detail)
			}
		}
		t.Fatalf("hot-apply failed:\n%s", dumpAudit(t, w.q))
	}
	if !sameFile(t, w.lib, v2) {
		t.Error("v2 not installed")
	}

	// A release whose checksum does not match is refused, and audited.
	bad := filepath.Join(w.releases, "libdemo.so.1.9")
	if err := os.WriteFile(bad, []byte("not the library"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad+".sha256", []byte(strings.Repeat("ab", 32)+"  libdemo.so.1.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the bad release to be refused", func() bool {
		return auditHas(t, w.q, "release", "refused", "checksum mismatch")
	})
	if !sameFile(t, w.lib, v2) {
		t.Error("the refused release changed the library")
	}

	writeRelease(t, w.releases, "libdemo.so.1.3", v3)
	var es []queue.Entry
	waitFor(t, 5*time.Second, "the incompatible release to be held", func() bool {
		es, _ = w.q.List(context.Background(), queue.Filter{})
		return len(es) == 1
	})
	inWindow.Store(true)
	time.Sleep(300 * time.Millisecond) // several polls, in the window
	if e, _ := w.q.Get(context.Background(), es[0].ID); e.State != queue.Held || !sameFile(t, w.lib, v2) {
		t.Fatalf("held entry ran, or its build was installed, before approval: %+v", e)
	}
	inWindow.Store(false)
	if err := w.q.Approve(queue.WithActor(context.Background(), "cli:test"), es[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // several polls, outside the window
	if e, _ := w.q.Get(context.Background(), es[0].ID); e.State != queue.Queued || !sameFile(t, w.lib, v2) {
		t.Fatalf("entry ran, or its build was installed, outside its window: %+v", e)
	}
	if p, v := d.last(); p != pid || v != 2 {
		t.Fatalf("daemon restarted outside the window: pid %d version %d", p, v)
	}
	inWindow.Store(true)
	waitFor(t, 15*time.Second, "the daemon to be restarted onto version 3", func() bool {
		p, v := d.last()
		return p != pid && v == 3
	})
	if es[0].Window.Cron != "0 3 * * *" || !strings.Contains(es[0].Reason, "incompatible") || !sameFile(t, w.lib, v3) {
		t.Fatalf("entries: %+v", es)
	}
	waitFor(t, 5*time.Second, "the entry to be done", func() bool {
		e, err := w.q.Get(context.Background(), es[0].ID)
		return err == nil && e.State == queue.Done
	})
}

// A release directory that does not exist stops the server at once, with
// an error naming it.
func TestServeMissingReleaseDir(t *testing.T) {
	q, err := queue.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	missing := filepath.Join(t.TempDir(), "missing")
	c := &Config{Libraries: []Subscription{{Path: "/lib/a.so", Releases: missing, Followers: Followers{All: true},
		Restart: RestartConfig{Command: "true"}}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Config: c, Upgrader: &Upgrader{Queue: q}, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("Run: %v, want an error naming %s", err, missing)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}
