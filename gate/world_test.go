package gate

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/gate/queue"
)

// world is a library installed in a directory, daemons using it, a state
// directory with its queue, and builds of further versions.
type world struct {
	lib      string // the installed library
	libDir   string
	builds   string // where further versions are compiled
	daemon   string // the daemon binary
	state    string
	q        *queue.Queue
	releases string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	requireGCC(t)
	w := &world{libDir: t.TempDir(), builds: t.TempDir(), state: t.TempDir(), releases: t.TempDir()}
	w.lib = buildLib(t, w.libDir, "libdemo.so.1", "-DVERSION=1")
	w.daemon = buildDaemon(t, w.lib)
	q, err := queue.Open(context.Background(), w.state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	w.q = q
	return w
}

// build compiles a version of the library and returns its path.
func (w *world) build(t *testing.T, name string, flags ...string) string {
	return buildLib(t, w.builds, name, flags...)
}

// restartOf returns the subscription settings that restart d: SIGTERM,
// then relaunch.
func restartOf(d *daemon) queue.Action {
	return queue.Action{Kind: queue.ActionSignal, Signal: "TERM", Command: d.relaunch()}
}

// sameFile reports whether two files have the same contents.
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}

// auditHas reports whether the audit log has an event with this action and
// outcome whose detail contains detail.
func auditHas(t *testing.T, q *queue.Queue, action, outcome, detail string) bool {
	t.Helper()
	evs, err := q.AuditLog(context.Background(), queue.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Action == action && ev.Outcome == outcome && strings.Contains(ev.Detail, detail) {
			return true
		}
	}
	return false
}

func dumpAudit(t *testing.T, q *queue.Queue) string {
	evs, _ := q.AuditLog(context.Background(), queue.AuditFilter{})
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(ev.Action + " " + ev.Outcome + " " + ev.Detail + "\n")
	}
	return b.String()
}
