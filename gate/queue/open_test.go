package queue

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/internal/testuser"
)

// A queue.db written by a compatgate with schema version 1 (before held
// and manual entries) opens: its entries, targets and audit log read back
// unchanged, and new entries can be added beside them.
func TestMigrateFromSchema1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	d := sqliteDialect()
	stmts := append(migrations()[0],
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO entries (library, from_build_id, from_path, to_build_id, to_path, action_kind, action_command,
			action_signal, stop_timeout_ms, health_command, health_timeout_ms, window_cron, window_duration_ms, reason,
			state, attempts, interruptions, progress, owner, created_at, updated_at, started_at, finished_at, last_error)
			VALUES ('/usr/lib/libold.so.1', 'aa', '/usr/lib/libold.so.1.compatgate-prev', 'bb', '/usr/lib/libold.so.1',
			'command', 'systemctl restart x', '', 0, '', 0, '0 3 * * *', 7200000, 'incompatible',
			'queued', 0, 0, 0, '', '2026-01-02T03:04:05.000000000Z', '2026-01-02T03:04:05.000000000Z', '', '', '')`,
		`INSERT INTO targets (entry_id, position, kind, value) VALUES (1, 0, 'unit', 'x.service')`,
		`INSERT INTO audit (at, actor, entry_id, library, action, outcome, detail)
			VALUES ('2026-01-02T03:04:05.000000000Z', 'serve', 1, '/usr/lib/libold.so.1', 'enqueue', 'queued', 'old')`)
	for _, s := range stmts {
		if _, err := db.Exec(d.ddl(s)); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	db.Close()

	q, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	e, err := q.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != Queued || e.Library != "/usr/lib/libold.so.1" || len(e.Targets) != 1 || e.Targets[0].Value != "x.service" ||
		e.Window.Cron != "0 3 * * *" || !e.Install.IsZero() || e.Findings != "" || !e.Approved.IsZero() {
		t.Errorf("old entry read back as %+v", e)
	}
	if evs, err := q.AuditLog(ctx, AuditFilter{}); err != nil || len(evs) != 1 || evs[0].Detail != "old" {
		t.Errorf("old audit log: %+v %v", evs, err)
	}
	en := sample("true")
	en.State, en.Findings = Held, "break symbol-removed"
	id, err := q.Enqueue(ctx, en)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := q.Get(ctx, id); got.State != Held || got.Findings != en.Findings {
		t.Errorf("new entry: %+v", got)
	}
	var v int
	if err := q.db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations()) {
		t.Errorf("schema version %d (%v), want %d", v, err, len(migrations()))
	}
}

// A 0-byte queue.db is an error, not a fresh start; OpenExisting creates
// nothing where no queue is.
func TestOpenRefusesEmptyOrMissingQueue(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DBFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if q, err := Open(ctx, dir); err == nil || !strings.Contains(err.Error(), "empty (0 bytes)") {
		if q != nil {
			q.Close()
		}
		t.Errorf("Open of a 0-byte queue.db: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "typo")
	if _, err := OpenExisting(ctx, missing); !errors.Is(err, ErrNoQueue) {
		t.Errorf("OpenExisting(%s): %v", missing, err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenExisting created %s", missing)
	}
	// Created private.
	dir = filepath.Join(t.TempDir(), "state")
	q, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, DBFile): 0o600, filepath.Join(dir, runsDir): 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), want, err)
		}
	}
	if q, err := OpenExisting(ctx, dir); err != nil {
		t.Errorf("OpenExisting of a queue: %v", err)
	} else {
		q.Close()
	}
}

// An ordinary user who can write to the state directory, or owns the
// database, could make the queue run their command as root: the queue
// refuses such a directory.
func TestOpenRefusesStateDirOthersControl(t *testing.T) {
	u := testuser.New(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"world-writable state dir", func(t *testing.T, dir string) { os.Chmod(dir, 0o777) }, "writable by group or others"},
		{"state dir of a user", func(t *testing.T, dir string) { u.Chown(t, dir) }, "owned by user " + u.Name},
		{"queue.db of a user", func(t *testing.T, dir string) {
			os.Chmod(dir, 0o777)
			os.Remove(filepath.Join(dir, DBFile))
			u.Run(t, "echo x > "+filepath.Join(dir, DBFile))
			os.Chmod(dir, 0o700)
		}, "owned by user " + u.Name},
		{"marker planted by a user", func(t *testing.T, dir string) {
			runs := filepath.Join(dir, runsDir)
			os.Chmod(runs, 0o777)
			os.Chmod(dir, 0o755)
			u.Run(t, "echo 0 > "+filepath.Join(runs, "1-1-0.status"))
			os.Chmod(runs, 0o700)
		}, "owned by user " + u.Name},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			os.Chmod(parent, 0o755) // the user may reach the state directory
			os.Chmod(filepath.Dir(parent), 0o755)
			dir := filepath.Join(parent, "state")
			q, err := Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			q.Close()
			tc.setup(t, dir)
			q, err = Open(ctx, dir)
			if err == nil {
				q.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
