//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/gate/queue"
)

// queueCLI runs compatgate in-process and returns its exit status and output.
func queueCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(env{ctx: context.Background(), args: args, stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

func TestQueueCommands(t *testing.T) {
	state := t.TempDir()
	log := filepath.Join(t.TempDir(), "restarts")
	sd := "--state-dir=" + state
	mustRun := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := queueCLI(args...)
		if code != want {
			t.Fatalf("compatgate %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout
	}
	out := mustRun(0, "queue", "add", sd, "--library", "/usr/lib/libdemo.so.1", "--target", "unit=a.service", "--target", "command=b",
		"--restart", `echo "$COMPATGATE_TARGET" >> `+log, "--health", "true", "--reason", "struct demo grew",
		"--window", "0 2 * * *", "--window-duration", "1h", "--to-path", "/usr/lib/libdemo.so.1.1")
	if out != "entry 1 queued\n" {
		t.Errorf("add: %q", out)
	}
	mustRun(0, "queue", "add", sd, "--library", "/usr/lib/libother.so", "--target", "pid=1", "--restart", "echo broken >&2; exit 7")

	out = mustRun(0, "queue", "list", sd)
	for _, want := range []string{"ID", "STATE", "/usr/lib/libdemo.so.1", "unit=a.service, command=b", "0 2 * * * for 1h0m0s", "struct demo grew", "queued"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	// Without --now, entry 1 waits for its window (unless the test runs
	// between 02:00 and 03:00); entry 2 has none and fails.
	out = mustRun(1, "queue", "run", sd, "--entry", "2")
	if !strings.Contains(out, "entry 2: failed: target 1 of 1 (pid=1): restart failed (exit status 7): broken") {
		t.Errorf("run: %s", out)
	}
	out = mustRun(0, "queue", "run", "--now", sd)
	if !strings.Contains(out, "entry 1: done: 2 target(s) restarted") {
		t.Errorf("run --now: %s", out)
	}
	if b, _ := os.ReadFile(log); string(b) != "unit=a.service\ncommand=b\n" {
		t.Errorf("restarts: %q", b)
	}
	out = mustRun(0, "queue", "show", "1", sd)
	for _, want := range []string{"entry 1: done", "health:    true (timeout 30s)", "1. unit=a.service", "restarted", "claim", "finish"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(0, "queue", "show", sd, "--format", "json", "2")
	var shown struct {
		Entry queue.Entry
		Log   []queue.Event
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("show --format json: %v\n%s", err, out)
	}
	if shown.Entry.State != queue.Failed || len(shown.Log) != 4 {
		t.Errorf("show json: state %s, %d events", shown.Entry.State, len(shown.Log))
	}

	mustRun(0, "queue", "add", sd, "--library", "/usr/lib/libdemo.so.1", "--target", "pid=1", "--restart", "true")
	out = mustRun(0, "queue", "cancel", sd, "--reason", "superseded", "3")
	if out != "entry 3 cancelled\n" {
		t.Errorf("cancel: %q", out)
	}
	out = mustRun(0, "queue", "list", sd, "--state", "cancelled", "--format", "json")
	var listed []queue.Entry
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0].ID != 3 {
		t.Errorf("list --state cancelled: %v %s", err, out)
	}

	out = mustRun(0, "log", sd, "--library", "/usr/lib/libdemo.so.1", "--format", "json")
	var events []queue.Event
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 9 || events[len(events)-1].Action != "cancel" || events[len(events)-1].Detail != "superseded" ||
		!strings.HasPrefix(events[0].Actor, "cli:") {
		t.Errorf("log: %d events, last %+v", len(events), events[len(events)-1])
	}
	out = mustRun(0, "log", sd, "--entry", "2", "--limit", "1")
	if !strings.Contains(out, "finish") || strings.Contains(out, "enqueue") {
		t.Errorf("log --entry 2 --limit 1:\n%s", out)
	}
	out = mustRun(0, "log", sd, "--since", "2000-01-01", "--until", "1h")
	if !strings.Contains(out, "no events") {
		t.Errorf("log in an empty time range:\n%s", out)
	}
}

func TestQueueCommandErrors(t *testing.T) {
	dir := t.TempDir()
	sd := "--state-dir=" + dir
	q, err := queue.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	typo := "--state-dir=" + filepath.Join(dir, "typo")
	config := filepath.Join(t.TempDir(), "subs.toml")
	if err := os.WriteFile(config, []byte("state_dir = \""+filepath.Join(dir, "other")+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"queue"}, 2, "Usage: compatgate queue"},
		{[]string{"queue", "frob"}, 2, `unknown command "frob"`},
		{[]string{"queue", "list", sd, "--format", "xml"}, 2, `unknown --format "xml"`},
		{[]string{"queue", "list", sd, "--state", "paused"}, 2, `unknown state "paused"`},
		{[]string{"queue", "show", sd}, 2, "want one entry ID"},
		{[]string{"queue", "show", sd, "abc"}, 2, `"abc" is not an entry ID`},
		{[]string{"queue", "show", sd, "42"}, 1, "entry 42: no such entry"},
		{[]string{"queue", "cancel", sd, "42"}, 1, "no such entry"},
		{[]string{"queue", "run", sd, "extra"}, 2, "takes no arguments"},
		{[]string{"queue", "add", sd, "--target", "pid=1", "--restart", "true"}, 2, "--library and at least one --target are required"},
		{[]string{"queue", "add", sd, "--library", "/l", "--target", "pid=x", "--restart", "true"}, 2, "not a positive process ID"},
		{[]string{"queue", "add", sd, "--library", "/l", "--target", "vm=3"}, 2, "unknown kind"},
		{[]string{"queue", "add", sd, "--library", "/l", "--target", "pid=1"}, 2, "restart action: empty command"},
		{[]string{"queue", "add", sd, "--library", "/l", "--target", "unit=a", "--signal", "TERM"}, 2, "needs pid or pidfile targets"},
		{[]string{"queue", "add", sd, "--library", "/l", "--target", "pid=1", "--restart", "x", "--window", "daily", "--window-duration", "1h"}, 2, "maintenance window"},
		{[]string{"queue", "add", sd, "--library", "/l", "--target", "pid=1", "--relaunch", "x"}, 2, "--relaunch needs --signal"},
		{[]string{"log", sd, "--since", "yesterday"}, 2, `"yesterday" is not a time`},
		{[]string{"log", sd, "--limit", "-1"}, 2, "must not be negative"},
		{[]string{"log", sd, "extra"}, 2, "takes no arguments"},
		{[]string{"queue", "list", "--state-dir", "/proc/nope"}, 1, "opening queue"},
		// A mistyped state directory: no queue there, and none is made.
		{[]string{"queue", "list", typo}, 1, "no queue exists there"},
		{[]string{"log", typo}, 1, "no queue exists there"},
		{[]string{"queue", "list", "--config", config}, 1, filepath.Join(dir, "other") + ": no queue exists there"},
		{[]string{"queue", "approve", sd, "42"}, 1, "entry 42: no such entry"},
		{[]string{"queue", "done", sd, "x"}, 2, "not an entry ID"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := queueCLI(tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
			if tt.code == 1 && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
	for _, d := range []string{filepath.Join(dir, "typo"), filepath.Join(dir, "other")} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s was created", d)
		}
	}
}

func TestQueueHelp(t *testing.T) {
	for _, args := range [][]string{{"queue", "--help"}, {"queue", "list", "--help"}, {"queue", "run", "--help"}, {"queue", "add", "--help"}, {"log", "--help"}} {
		code, stdout, _ := queueCLI(args...)
		if code != 0 || !strings.Contains(stdout, "Usage: compatgate") {
			t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
		}
	}
	if code, stdout, _ := queueCLI("help"); code != 0 || !strings.Contains(stdout, "queue") || !strings.Contains(stdout, "log") {
		t.Errorf("help does not list queue and log:\n%s", stdout)
	}
}

// An operator approves a held entry and closes a manual one; both are
// audited with who did it. A newline in a name never forges a line of the
// text outputs.
func TestQueueApproveDoneAndEscaping(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	q, err := queue.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	forged := "/lib/x.so\n2026-01-01 00:00:00  root  1  /lib/x.so  approve  queued  FORGED"
	held := queue.Entry{Library: forged, State: queue.Held, Targets: []queue.Target{{Kind: queue.TargetPID, Value: "1"}},
		Restart: queue.Action{Kind: queue.ActionCommand, Command: "true"}, Findings: "break symbol-removed: f\nbreak x"}
	heldID, err := q.Enqueue(ctx, held)
	if err != nil {
		t.Fatal(err)
	}
	manualID, err := q.Enqueue(ctx, queue.Entry{Library: "/lib/y.so", Targets: []queue.Target{{Kind: queue.TargetPID, Value: "1"}},
		Restart: queue.Action{Kind: queue.ActionManual}})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	sd := "--state-dir=" + dir
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"queue", "done", sd, id(heldID)}, 1, "only manual entries"},
		{[]string{"queue", "approve", sd, "--note", "checked", id(heldID)}, 0, "approved"},
		{[]string{"queue", "approve", sd, id(heldID)}, 1, "only held entries"},
		{[]string{"queue", "done", sd, id(manualID)}, 0, "closed"},
	} {
		code, stdout, stderr := queueCLI(c.args...)
		if code != c.code || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("%v: exit %d, %q %q; want %d and %q", c.args, code, stdout, stderr, c.code, c.want)
		}
	}
	code, out, _ := queueCLI("log", sd)
	if code != 0 {
		t.Fatalf("log: exit %d", code)
	}
	if strings.Contains(out, "\n2026-01-01") || !strings.Contains(out, `/lib/x.so\n2026-01-01`) {
		t.Errorf("log output not escaped:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n != 5 { // header, enqueue ×2, approve, done
		t.Errorf("log: %d lines, want 5:\n%s", n, out)
	}
	who := actor()
	if !strings.Contains(out, who) || !strings.Contains(out, "approved by "+who+": checked") {
		t.Errorf("log does not say who approved:\n%s", out)
	}
	for _, args := range [][]string{{"queue", "list", sd}, {"queue", "show", sd, id(heldID)}} {
		_, out, _ := queueCLI(args...)
		if strings.Contains(out, "\n2026-01-01") {
			t.Errorf("%v: not escaped:\n%s", args, out)
		}
	}
	_, out, _ = queueCLI("queue", "show", sd, id(heldID))
	if !strings.Contains(out, "findings:\n  break symbol-removed: f\n  break x\n") || !strings.Contains(out, "approved:  by "+who) {
		t.Errorf("show:\n%s", out)
	}
}
