package queue

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openTemp opens a queue in a fresh temporary state directory.
func openTemp(t *testing.T) *Queue {
	t.Helper()
	q, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// sample returns a valid entry restarting the given targets with command.
func sample(command string, targets ...Target) Entry {
	if len(targets) == 0 {
		targets = []Target{{TargetUnit, "demo.service"}}
	}
	return Entry{
		Library: "/usr/lib/libdemo.so.1",
		From:    Build{BuildID: "aaaa", Path: "/usr/lib/libdemo.so.1.0"},
		To:      Build{BuildID: "bbbb", Path: "/usr/lib/libdemo.so.1.1"},
		Targets: targets,
		Restart: Action{Kind: ActionCommand, Command: command},
		Reason:  "struct demo grew",
	}
}

func TestEnqueueGetList(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	in := sample("true", Target{TargetPID, "42"}, Target{TargetUnit, "a.service"}, Target{TargetPIDFile, "/run/a.pid"}, Target{TargetCommand, "demo"})
	in.Health = Health{Command: "true", Timeout: 5 * time.Second}
	in.Window = Spec{Cron: "0 2 * * *", Duration: 2 * time.Hour}
	id, err := q.Enqueue(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := q.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.State != Queued || got.Attempts != 0 || got.Created.IsZero() || !got.Started.IsZero() {
		t.Errorf("fresh entry: %+v", got)
	}
	if got.Library != in.Library || got.From != in.From || got.To != in.To || got.Reason != in.Reason ||
		got.Restart != in.Restart || got.Health != in.Health || got.Window != in.Window {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, in)
	}
	if len(got.Targets) != 4 || targetList(got.Targets) != targetList(in.Targets) {
		t.Errorf("targets: got %v, want %v", got.Targets, in.Targets)
	}
	if _, err := q.Enqueue(ctx, sample("true")); err != nil {
		t.Fatal(err)
	}
	all, err := q.List(ctx, Filter{})
	if err != nil || len(all) != 2 || all[0].ID != id {
		t.Fatalf("List: %d entries, %v", len(all), err)
	}
	none, err := q.List(ctx, Filter{States: []State{Done, Failed}})
	if err != nil || len(none) != 0 {
		t.Fatalf("List(done|failed): %d entries, %v", len(none), err)
	}
	if _, err := q.Get(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(999) = %v, want ErrNotFound", err)
	}
}

func TestEnqueueRejectsBadEntries(t *testing.T) {
	q := openTemp(t)
	tests := []struct {
		name string
		edit func(*Entry)
		want string
	}{
		{"no library", func(e *Entry) { e.Library = " " }, "no library"},
		{"no targets", func(e *Entry) { e.Targets = nil }, "no targets"},
		{"bad pid", func(e *Entry) { e.Targets = []Target{{TargetPID, "-3"}} }, "positive process ID"},
		{"relative pidfile", func(e *Entry) { e.Targets = []Target{{TargetPIDFile, "a.pid"}} }, "absolute"},
		{"unknown kind", func(e *Entry) { e.Targets = []Target{{"host", "x"}} }, "unknown kind"},
		{"empty command", func(e *Entry) { e.Restart.Command = "" }, "empty command"},
		{"unknown action", func(e *Entry) { e.Restart.Kind = "reboot" }, "unknown kind"},
		{"bad signal", func(e *Entry) {
			e.Restart = Action{Kind: ActionSignal, Signal: "SIGTERM"}
			e.Targets = []Target{{TargetPID, "1"}}
		}, "unknown signal"},
		{"signal to unit", func(e *Entry) { e.Restart = Action{Kind: ActionSignal, Signal: "TERM"} }, "pid or pidfile"},
		{"bad cron", func(e *Entry) { e.Window = Spec{Cron: "61 * * * *", Duration: time.Hour} }, "maintenance window"},
		{"no duration", func(e *Entry) { e.Window = Spec{Cron: "@daily"} }, "duration must be positive"},
		{"health timeout alone", func(e *Entry) { e.Health.Timeout = time.Second }, "without a health command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sample("true")
			tt.edit(&e)
			_, err := q.Enqueue(context.Background(), e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Enqueue: err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if all, _ := q.List(context.Background(), Filter{}); len(all) != 0 {
		t.Errorf("%d bad entries were stored", len(all))
	}
}

func TestTransitionTable(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{Queued, Running, true},
		{Queued, Cancelled, true},
		{Queued, Done, false},
		{Queued, Failed, false},
		{Running, Done, true},
		{Running, Failed, true},
		{Running, Queued, true},
		{Running, Cancelled, false},
		{Running, Manual, true},
		{Running, Held, true},
		{Held, Queued, true},
		{Held, Running, false},
		{Held, Cancelled, true},
		{Manual, Done, true},
		{Manual, Cancelled, true},
		{Manual, Queued, false},
		{Done, Queued, false},
		{Failed, Running, false},
		{Cancelled, Queued, false},
	}
	for _, tt := range tests {
		if got := canMove(tt.from, tt.to); got != tt.ok {
			t.Errorf("canMove(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
	for _, s := range []State{Done, Failed, Cancelled} {
		if !s.Final() {
			t.Errorf("%s is not final", s)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	id, err := q.Enqueue(ctx, sample("true"))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Cancel(WithActor(ctx, "test"), id, "release withdrawn"); err != nil {
		t.Fatal(err)
	}
	e, _ := q.Get(ctx, id)
	if e.State != Cancelled || e.Finished.IsZero() {
		t.Errorf("after cancel: state %s, finished %v", e.State, e.Finished)
	}
	if err := q.Cancel(ctx, id, ""); err == nil || !strings.Contains(err.Error(), "only held, queued and manual entries") {
		t.Errorf("second cancel: %v", err)
	}
	if err := q.Cancel(ctx, 77, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("cancel of a missing entry: %v", err)
	}
	// A cancelled entry is never claimed.
	if err := q.claim(ctx, e); err == nil {
		t.Error("claimed a cancelled entry")
	}
	evs, err := q.AuditLog(ctx, AuditFilter{EntryID: id})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].Action != "cancel" || evs[1].Actor != "test" || evs[1].Detail != "release withdrawn" {
		t.Errorf("audit: %+v", evs)
	}
}

func TestClaimIsCompareAndSet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id, err := a.Enqueue(ctx, sample("true"))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := a.Get(ctx, id)
	errA, errB := a.claim(ctx, e), b.claim(ctx, e)
	var te *TransitionError
	if errA != nil || !errors.As(errB, &te) || te.From != Running {
		t.Fatalf("claims: first %v, second %v", errA, errB)
	}
	// b does not own it: it may not finish it.
	if err := b.finish(ctx, e, Done, ""); err == nil {
		t.Error("a non-owner finished the entry")
	}
	if err := a.finish(ctx, e, Done, ""); err != nil {
		t.Error(err)
	}
}

func TestReopenKeepsSchemaAndEntries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for i := range 3 {
		q, err := Open(ctx, dir)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if _, err := q.Enqueue(ctx, sample("true")); err != nil {
			t.Fatal(err)
		}
		var version, rows int
		q.db.QueryRow(`SELECT MAX(version), COUNT(*) FROM schema_version`).Scan(&version, &rows)
		if version != len(migrations()) || rows != 1 {
			t.Errorf("schema_version: version %d in %d rows", version, rows)
		}
		var mode string
		q.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
		if mode != "wal" {
			t.Errorf("journal mode %q, want wal", mode)
		}
		q.Close()
	}
	q, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	all, _ := q.List(ctx, Filter{})
	if len(all) != 3 {
		t.Errorf("%d entries after three opens, want 3", len(all))
	}
	if _, err := q.db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	q.Close()
	if _, err := Open(ctx, dir); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("open of a newer schema: %v", err)
	}
}

func TestRecoverRequeuesEntriesOfDeadOwners(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	q, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	dead, _ := q.Enqueue(ctx, sample("true"))
	alive, _ := q.Enqueue(ctx, sample("true"))
	host := strings.SplitN(ownerID(), ":", 2)[0]
	// A process of this host that is gone (PID 1's start time is never -5),
	// and this process.
	q.db.Exec(`UPDATE entries SET state = 'running', attempts = 1, owner = ? WHERE id = ?`, host+":1:-5:TAG", dead)
	q.db.Exec(`UPDATE entries SET state = 'running', attempts = 1, owner = ? WHERE id = ?`, ownerID(), alive)
	q.Close()

	q, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	e, _ := q.Get(ctx, dead)
	if e.State != Queued || e.Attempts != 1 || e.Interruptions != 1 || !e.Retried() || !strings.HasPrefix(e.LastError, "interrupted") {
		t.Errorf("dead owner's entry: %+v", e)
	}
	evs, _ := q.AuditLog(ctx, AuditFilter{EntryID: dead})
	if last := evs[len(evs)-1]; last.Action != "interrupted" || last.Outcome != "requeued" || last.Actor != "recovery" {
		t.Errorf("audit: %+v", last)
	}
	if e, _ := q.Get(ctx, alive); e.State != Running {
		t.Errorf("live owner's entry was taken: %s", e.State)
	}
}

func TestAuditLogFilters(t *testing.T) {
	ctx := context.Background()
	q := openTemp(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, ev := range []Event{
		{EntryID: 1, Library: "/lib/a.so", Action: "enqueue", Outcome: "queued"},
		{EntryID: 2, Library: "/lib/b.so", Action: "enqueue", Outcome: "queued"},
		{EntryID: 1, Library: "/lib/a.so", Action: "restart", Outcome: "ok"},
		{Library: "/lib/b.so", Action: "intake", Outcome: "refused", Detail: "bad checksum"},
	} {
		ev.Time = t0.Add(time.Duration(i) * time.Hour)
		ev.Actor = "test"
		if err := q.Audit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Audit(ctx, Event{}); err == nil {
		t.Error("an event without action was accepted")
	}
	tests := []struct {
		name string
		f    AuditFilter
		want []string // actions, in order
	}{
		{"all", AuditFilter{}, []string{"enqueue", "enqueue", "restart", "intake"}},
		{"entry", AuditFilter{EntryID: 1}, []string{"enqueue", "restart"}},
		{"library", AuditFilter{Library: "/lib/b.so"}, []string{"enqueue", "intake"}},
		{"since", AuditFilter{Since: t0.Add(2 * time.Hour)}, []string{"restart", "intake"}},
		{"until", AuditFilter{Until: t0.Add(time.Hour)}, []string{"enqueue"}},
		{"window", AuditFilter{Since: t0.Add(time.Hour), Until: t0.Add(3 * time.Hour)}, []string{"enqueue", "restart"}},
		{"newest 1", AuditFilter{Limit: 1}, []string{"intake"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := q.AuditLog(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, ev.Action)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOpenRejectsBadDirectories(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "file")
	if err := writeFile(file, "x"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", filepath.Join(file, "sub"), "/tmp/a?b"} {
		if q, err := Open(ctx, dir); err == nil {
			q.Close()
			t.Errorf("Open(%q) succeeded", dir)
		}
	}
}

func TestRebind(t *testing.T) {
	q := `UPDATE entries SET state = ? WHERE id = ? AND state = ?`
	if got := sqliteDialect().rebind(q); got != q {
		t.Errorf("sqlite rebind changed the query: %s", got)
	}
	want := `UPDATE entries SET state = $1 WHERE id = $2 AND state = $3`
	if got := postgresDialect().rebind(q); got != want {
		t.Errorf("postgres rebind:\n got %s\nwant %s", got, want)
	}
	if got := postgresDialect().ddl("id {{id}}, n {{int64}}"); got != "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n BIGINT" {
		t.Errorf("postgres id column: %s", got)
	}
}

func TestEntryJSONRoundTrip(t *testing.T) {
	in := sample("true", Target{TargetPID, "9"})
	in.Restart = Action{Kind: ActionSignal, Signal: "HUP", Command: "x", StopTimeout: 90 * time.Second}
	in.Health = Health{Command: "true", Timeout: 1500 * time.Millisecond}
	in.Window = Spec{Cron: "@daily", Duration: 2 * time.Hour}
	in.Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"stop_timeout":"1m30s"`, `"timeout":"1.5s"`, `"duration":"2h0m0s"`, `"state":""`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	var out Entry
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Restart != in.Restart || out.Health != in.Health || out.Window != in.Window || !out.Created.Equal(in.Created) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"window":{"cron":"@daily","duration":"soon"}}`), &out); err == nil {
		t.Error("a bad duration was accepted")
	}
}

func TestDefaultStateDir(t *testing.T) {
	dir, err := DefaultStateDir()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && dir != "/var/lib/compatgate" {
		t.Errorf("root's state directory is %s", dir)
	}
	if os.Geteuid() != 0 && !strings.HasSuffix(dir, "/compatgate") {
		t.Errorf("state directory %s", dir)
	}
}
