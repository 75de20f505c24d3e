package gate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compatgate/compatgate/gate/queue"
	"github.com/compatgate/compatgate/internal/proctree"
)

// The crash test re-executes the test binary as "compatgate serve" (the
// same Server the command runs), and kills it with SIGKILL.
const serveHelperEnv = "COMPATGATE_GATE_SERVE_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(serveHelperEnv) == "1" {
		if err := serveHelper(); err != nil {
			fmt.Fprintln(os.Stderr, "serve helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveHelper serves $CONFIG with the queue in $STATE_DIR until killed.
func serveHelper() error {
	c, err := LoadConfig(os.Getenv("CONFIG"))
	if err != nil {
		return err
	}
	ctx := queue.WithActor(context.Background(), "serve")
	q, err := queue.Open(ctx, os.Getenv("STATE_DIR"))
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s := &Server{Config: c, Settle: 20 * time.Millisecond, Logger: log, Upgrader: &Upgrader{Queue: q, Logger: log}}
	return s.Run(ctx)
}

// TestServeSurvivesSIGKILL drops 20 releases, one at a time, each needing a
// restart of the daemon, and kills the server with SIGKILL while handling
// each — at random moments (taking the release, deciding, installing,
// enqueueing) for half of them, while the restart entry runs for the other
// half — then starts it again. Every release
// must end with exactly one entry, run to done, whose restart ran exactly
// once, and the daemon on that release.
//
// Then the same, killing the server's whole process tree while the entry
// runs (restart supervisors, restart actions and a daemon being relaunched
// included), as systemd's KillMode=control-group does: a restart so cut
// short is in doubt, its entry held; the test, as the operator, confirms
// it when the daemon runs the release, else approves running it again (and
// starts the daemon if the kill took it). No restart ever runs again
// without that approval.
func TestServeSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	for _, tree := range []bool{false, true} {
		name := "SIGKILL"
		if tree {
			name = "process tree"
		}
		t.Run(name, func(t *testing.T) { serveSurvives(t, tree) })
	}
}

func serveSurvives(t *testing.T, tree bool) {
	w := newWorld(t)
	d := newDaemon(t, w.daemon)
	d.start(t)
	const rounds = 20
	builds := make([]string, rounds)
	ids := map[string]int{} // build-id -> version
	for i := range builds {
		builds[i] = w.build(t, fmt.Sprintf("v%d.so", i+2), fmt.Sprintf("-DVERSION=%d", i+2))
		id, err := FileBuildID(builds[i])
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = i + 2
	}
	execLog := filepath.Join(t.TempDir(), "exec.log")
	config := filepath.Join(t.TempDir(), "subscriptions.toml")
	text := fmt.Sprintf(`poll = "50ms"
[[library]]
name = "libdemo"
path = %q
releases = %q
hot_apply = false
[library.followers]
pid_files = [%q]
[library.restart]
signal = "TERM"
command = %q
[library.health]
command = %q
`, w.lib, w.releases, d.pidFile,
		d.relaunch()+` echo "$COMPATGATE_ENTRY_ID" >> `+execLog,
		"sleep 0.05; kill -0 $(cat "+d.pidFile+")")
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	helperLog, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer helperLog.Close()
	start := func() *exec.Cmd {
		// A killed serve's lock is free once every process that shared its
		// file description is gone: a child it was forking when killed
		// holds it until its exec. Wait for that, or the new serve refuses
		// to start beside "another" one.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			release, err := LockInstance(w.state)
			if err == nil {
				release()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the serve lock is still held 30 s after the kill: %v", err)
			}
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), serveHelperEnv+"=1", "CONFIG="+config, "STATE_DIR="+w.state)
		cmd.Stdout, cmd.Stderr = io.Discard, helperLog
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kill := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	killTree := func(cmd *exec.Cmd) {
		proctree.Kill(cmd.Process.Pid)
		cmd.Wait()
	}
	held := 0
	// operate decides the entries held with a restart in doubt, and starts
	// the daemon again if a kill took it.
	operate := func() {
		es, err := w.q.List(context.Background(), queue.Filter{States: []queue.State{queue.Held}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			octx := queue.WithActor(context.Background(), "operator")
			if pid, v := d.last(); v == ids[e.To.BuildID] && syscall.Kill(pid, 0) == nil {
				err = w.q.ConfirmRestarted(octx, e.ID, "the daemon runs it")
			} else {
				err = w.q.Approve(octx, e.ID, "the daemon does not run it")
			}
			if err != nil {
				t.Fatal(err)
			}
			held++
		}
		if pid, _ := d.last(); len(es) == 0 && syscall.Kill(pid, 0) != nil {
			d.start(t)
		}
	}
	ctx := context.Background()
	doneFor := func(version int) bool {
		if _, v := d.last(); v != version {
			return false
		}
		es, err := w.q.List(ctx, queue.Filter{States: []queue.State{queue.Done}})
		if err != nil {
			return false
		}
		for _, e := range es {
			if ids[e.To.BuildID] == version {
				return true
			}
		}
		return false
	}
	for i, b := range builds {
		version := i + 2
		writeRelease(t, w.releases, fmt.Sprintf("libdemo.so.1.%d", version), b)
		if i%2 == 0 && !tree {
			// Kill it once or twice at random moments: taking the
			// release, deciding, installing, enqueueing, restarting.
			for k := rand.IntN(2); k >= 0; k-- {
				cmd := start()
				time.Sleep(time.Duration(rand.IntN(600)) * time.Millisecond)
				kill(cmd)
			}
		} else {
			// Kill it while it runs the entry.
			cmd := start()
			running := false
			for deadline := time.Now().Add(10 * time.Second); !running && time.Now().Before(deadline); {
				es, _ := w.q.List(ctx, queue.Filter{States: []queue.State{queue.Running}})
				running = len(es) > 0
				time.Sleep(5 * time.Millisecond)
			}
			if !running {
				t.Fatalf("round %d: the entry never ran", i+1)
			}
			if tree {
				time.Sleep(time.Duration(rand.IntN(80)) * time.Millisecond)
				killTree(cmd)
				operate()
			} else {
				time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
				kill(cmd)
			}
		}
		cmd := start()
		deadline := time.Now().Add(60 * time.Second)
		for !doneFor(version) {
			if tree {
				operate()
			}
			if time.Now().After(deadline) {
				kill(cmd)
				b, _ := os.ReadFile(helperLog.Name())
				t.Fatalf("round %d: release %d not done within 60s\naudit:\n%s\nserve log:\n%s", i+1, version, dumpAudit(t, w.q), tail(string(b), 4000))
			}
			time.Sleep(20 * time.Millisecond)
		}
		kill(cmd)
	}

	es, err := w.q.List(ctx, queue.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	retried := 0
	for _, e := range es {
		v := ids[e.To.BuildID]
		if v == 0 || seen[v] || e.State != queue.Done {
			t.Errorf("entry %d: to %s (version %d, seen before: %v), state %s", e.ID, e.To.BuildID, v, seen[v], e.State)
		}
		seen[v] = true
		if e.Retried() {
			retried++
		}
	}
	if len(es) != rounds {
		t.Errorf("%d entries for %d releases", len(es), rounds)
	}
	b, err := os.ReadFile(execLog)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[int64]int{}
	for _, f := range strings.Fields(string(b)) {
		id, _ := strconv.ParseInt(f, 10, 64)
		runs[id]++
	}
	for _, e := range es {
		approvals := 0
		evs, _ := w.q.AuditLog(ctx, queue.AuditFilter{EntryID: e.ID})
		for _, ev := range evs {
			if ev.Action == "approve" && !strings.Contains(ev.Detail, "confirmed") {
				approvals++
			}
		}
		if runs[e.ID] > 1+approvals || !tree && runs[e.ID] != 1 {
			t.Errorf("entry %d: restart ran %d times, with %d operator approval(s) to run it again", e.ID, runs[e.ID], approvals)
		}
	}
	if retried < rounds/2 {
		t.Errorf("%d entries retried, want at least %d of those killed while running", retried, rounds/2)
	}
	t.Logf("%d releases, %d entries, %d of them interrupted and retried, %d held with a restart in doubt", rounds, len(es), retried, held)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
