package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/compatgate/compatgate/internal/trust"
)

// DBFile is the name of the database file in the state directory.
const DBFile = "queue.db"

// ErrNotFound is returned for an entry ID that is not in the queue.
var ErrNotFound = errors.New("no such entry")

// Queue is an open restart queue. Its methods are safe for concurrent use,
// and several processes may open the same state directory at once.
type Queue struct {
	db    *sql.DB
	d     dialect
	dir   string // the state directory
	owner string // this process, as recorded in the entries it runs
}

// Open opens (creating if needed) the queue in the state directory dir
// (a relative dir is made absolute),
// brings its schema up to date, and returns to the queue every entry left
// running by a process of this host that no longer exists, recording the
// interruption in the audit log.
//
// The state directory, every directory above it and every file in it must
// be owned by root or the effective user and not writable by group or
// others (see package internal/trust): the queue holds commands run as its
// user. What Open creates is private (0700 directories, 0600 files). An
// empty (0-byte) queue.db is an error, never silently re-initialised.
func Open(ctx context.Context, dir string) (*Queue, error) {
	return open(ctx, dir, true)
}

// OpenExisting is Open for a queue that must exist: when dir holds no
// queue.db it returns an error wrapping ErrNoQueue and creates nothing.
func OpenExisting(ctx context.Context, dir string) (*Queue, error) {
	return open(ctx, dir, false)
}

// ErrNoQueue is returned by OpenExisting for a directory without a queue.
var ErrNoQueue = errors.New("no queue exists there")

func open(ctx context.Context, dir string, create bool) (*Queue, error) {
	if dir == "" {
		return nil, errors.New("opening queue: empty state directory")
	}
	if strings.ContainsAny(dir, "?#") {
		return nil, fmt.Errorf("opening queue: state directory %q: '?' and '#' are not supported in the path", dir)
	}
	// Restart commands run in "/": every path handed to them (marker,
	// status and output files) must be absolute.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening queue: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	if !create {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("opening queue: %s: %w (no %s; check --state-dir or the config's state_dir)", dir, ErrNoQueue, DBFile)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, runsDir), 0o700); err != nil {
		return nil, fmt.Errorf("opening queue: %w", err)
	}
	if err := checkStateDir(dir); err != nil {
		return nil, fmt.Errorf("opening queue: refusing the state directory: %w", err)
	}
	// Creating the database and its schema is one step for other
	// processes: they wait on the directory's lock.
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("opening queue: %w", err)
	}
	defer unlock()
	if err := createDB(path); err != nil {
		return nil, fmt.Errorf("opening queue: %w", err)
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening queue %s: %w", path, err)
	}
	q := &Queue{db: db, d: sqliteDialect(), dir: dir, owner: ownerID()}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening queue %s: %w", path, err)
	}
	if err := migrate(ctx, db, q.d); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening queue %s: %w", path, err)
	}
	unlock()
	if err := q.Recover(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening queue %s: %w", path, err)
	}
	return q, nil
}

// createDB makes sure the database file exists, private to its owner: a new
// one is created 0600 (SQLite gives its journal files the same mode); an
// existing empty one is an error, since SQLite would take it for a new
// database and the queue's history would be lost without a word.
func createDB(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, os.ErrExist) {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() == 0 {
		// A database this package created has its schema before the
		// directory's lock is released (in its WAL, at least).
		if wal, err := os.Stat(path + "-wal"); err != nil || wal.Size() == 0 {
			return fmt.Errorf("%s is empty (0 bytes): refusing to start a new queue over it; restore it from a backup, or remove it to start afresh", path)
		}
	}
	return nil
}

// lockDir takes an exclusive lock on the directory dir, waiting while ctx
// allows, and returns its release.
func lockDir(ctx context.Context, dir string) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := lockFile(ctx, d); err != nil {
		d.Close()
		return nil, err
	}
	return func() { d.Close() }, nil
}

// checkStateDir checks the state directory, the directories above it and
// what it holds (one level down, and the restart markers).
func checkStateDir(dir string) error {
	var p trust.Policy
	if err := p.CheckPath(dir); err != nil {
		return err
	}
	for _, d := range []string{dir, filepath.Join(dir, runsDir)} {
		ents, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, ent := range ents {
			fi, err := os.Lstat(filepath.Join(d, ent.Name()))
			if errors.Is(err, os.ErrNotExist) {
				continue // removed meanwhile
			}
			if err != nil {
				return err
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				return fmt.Errorf("%s is a symbolic link", filepath.Join(d, ent.Name()))
			}
			if err := p.CheckInfo(filepath.Join(d, ent.Name()), fi); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close closes the database.
func (q *Queue) Close() error { return q.db.Close() }

// Dir returns the state directory.
func (q *Queue) Dir() string { return q.dir }

// entryColumns is the column list that scanEntry reads, in order.
const entryColumns = `id, library, from_build_id, from_path, to_build_id, to_path,
	action_kind, action_command, action_signal, stop_timeout_ms,
	health_command, health_timeout_ms, window_cron, window_duration_ms, reason,
	state, attempts, interruptions, progress, owner,
	created_at, updated_at, started_at, finished_at, last_error,
	install_from, install_sha256, install_version, findings, approved_by, approved_at`

// Enqueue validates e and adds it to the queue, returning its ID. It starts
// in e.State when that is held or manual (an entry without a restart
// action and nothing to install), else queued. The ID, counters and
// timestamps of e are ignored.
func (q *Queue) Enqueue(ctx context.Context, e Entry) (int64, error) {
	id, _, err := q.enqueue(ctx, e, false)
	return id, err
}

// EnqueueOnce is Enqueue keyed by (e.Library, e.To.BuildID): when the queue
// already holds an entry, in any state but cancelled, for the same library
// and target build, it adds nothing and returns that entry's ID and true.
// The check and the insert are one transaction, so two callers racing, or
// a caller retrying after a crash, never enqueue the same upgrade twice.
func (q *Queue) EnqueueOnce(ctx context.Context, e Entry) (int64, bool, error) {
	if e.To.BuildID == "" {
		return 0, false, errors.New("enqueueing: the entry has no target build-id to key it by")
	}
	return q.enqueue(ctx, e, true)
}

// enqueue adds e; with once, only when no live entry has its key.
func (q *Queue) enqueue(ctx context.Context, e Entry, once bool) (int64, bool, error) {
	if err := e.Validate(); err != nil {
		return 0, false, fmt.Errorf("enqueueing: %w", err)
	}
	state, err := initialState(e)
	if err != nil {
		return 0, false, fmt.Errorf("enqueueing: %w", err)
	}
	now := formatTime(time.Now())
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("enqueueing: %w", err)
	}
	defer tx.Rollback()
	var id int64
	if once {
		err := tx.QueryRowContext(ctx, q.d.rebind(`SELECT id FROM entries
			WHERE library = ? AND to_build_id = ? AND state <> ? ORDER BY id LIMIT 1`),
			e.Library, e.To.BuildID, string(Cancelled)).Scan(&id)
		switch {
		case err == nil:
			return id, true, nil
		case !errors.Is(err, sql.ErrNoRows):
			return 0, false, fmt.Errorf("enqueueing: looking for an entry to %s: %w", e.To.BuildID, err)
		}
	}
	err = tx.QueryRowContext(ctx, q.d.rebind(`INSERT INTO entries (
		library, from_build_id, from_path, to_build_id, to_path,
		action_kind, action_command, action_signal, stop_timeout_ms,
		health_command, health_timeout_ms, window_cron, window_duration_ms, reason,
		state, attempts, interruptions, progress, owner,
		created_at, updated_at, started_at, finished_at, last_error,
		install_from, install_sha256, install_version, findings, approved_by, approved_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, '', ?, ?, '', '', '', ?, ?, ?, ?, '', '')
		RETURNING id`),
		e.Library, e.From.BuildID, e.From.Path, e.To.BuildID, e.To.Path,
		string(e.Restart.Kind), e.Restart.Command, e.Restart.Signal, e.Restart.StopTimeout.Milliseconds(),
		e.Health.Command, e.Health.Timeout.Milliseconds(), e.Window.Cron, e.Window.Duration.Milliseconds(), e.Reason,
		string(state), now, now, e.Install.From, e.Install.SHA256, e.Install.Version, e.Findings).Scan(&id)
	if err != nil {
		return 0, false, fmt.Errorf("enqueueing: %w", err)
	}
	for i, t := range e.Targets {
		_, err := tx.ExecContext(ctx, q.d.rebind(`INSERT INTO targets (entry_id, position, kind, value) VALUES (?, ?, ?, ?)`),
			id, i, string(t.Kind), t.Value)
		if err != nil {
			return 0, false, fmt.Errorf("enqueueing target %s: %w", t, err)
		}
	}
	detail := fmt.Sprintf("%d target(s): %s", len(e.Targets), targetList(e.Targets))
	if e.Reason != "" {
		detail = e.Reason + "; " + detail
	}
	if e.Findings != "" {
		detail += "; findings: " + strings.ReplaceAll(e.Findings, "\n", "; ")
	}
	if err := q.audit(ctx, tx, Event{Actor: actorOf(ctx), EntryID: id, Library: e.Library, Action: "enqueue", Outcome: string(state), Detail: detail}); err != nil {
		return 0, false, fmt.Errorf("enqueueing: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("enqueueing: committing: %w", err)
	}
	return id, false, nil
}

// initialState is the state e starts in: held when asked, manual for an
// entry with a manual restart and nothing to install, else queued.
func initialState(e Entry) (State, error) {
	switch {
	case e.State == Held:
		return Held, nil
	case e.Restart.Kind == ActionManual && e.Install.IsZero():
		return Manual, nil
	case e.State == "" || e.State == Queued || e.State == Manual:
		return Queued, nil
	}
	return "", fmt.Errorf("an entry cannot start %s", e.State)
}

func targetList(ts []Target) string {
	if len(ts) == 0 {
		return "none"
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

// Get returns the entry with the given ID, or an error wrapping ErrNotFound.
func (q *Queue) Get(ctx context.Context, id int64) (Entry, error) {
	row := q.db.QueryRowContext(ctx, q.d.rebind(`SELECT `+entryColumns+` FROM entries WHERE id = ?`), id)
	e, err := scanEntry(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("entry %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("reading entry %d: %w", id, err)
	}
	if e.Targets, err = q.targets(ctx, id); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Filter selects entries for List. Zero fields select everything.
type Filter struct {
	States  []State // any of these states
	Library string  // this library path
}

// List returns the entries matching f, oldest first.
func (q *Queue) List(ctx context.Context, f Filter) ([]Entry, error) {
	var where []string
	var args []any
	if len(f.States) > 0 {
		marks := make([]string, len(f.States))
		for i, s := range f.States {
			marks[i] = "?"
			args = append(args, string(s))
		}
		where = append(where, "state IN ("+strings.Join(marks, ", ")+")")
	}
	if f.Library != "" {
		where = append(where, "library = ?")
		args = append(args, f.Library)
	}
	query := `SELECT ` + entryColumns + ` FROM entries`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id"
	rows, err := q.db.QueryContext(ctx, q.d.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("listing entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("listing entries: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing entries: %w", err)
	}
	rows.Close()
	for i := range out {
		if out[i].Targets, err = q.targets(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (q *Queue) targets(ctx context.Context, id int64) ([]Target, error) {
	rows, err := q.db.QueryContext(ctx, q.d.rebind(`SELECT kind, value FROM targets WHERE entry_id = ? ORDER BY position`), id)
	if err != nil {
		return nil, fmt.Errorf("reading targets of entry %d: %w", id, err)
	}
	defer rows.Close()
	var ts []Target
	for rows.Next() {
		var kind, value string
		if err := rows.Scan(&kind, &value); err != nil {
			return nil, fmt.Errorf("reading targets of entry %d: %w", id, err)
		}
		ts = append(ts, Target{Kind: TargetKind(kind), Value: value})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading targets of entry %d: %w", id, err)
	}
	return ts, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanEntry(s scanner) (Entry, error) {
	var e Entry
	var kind, state, created, updated, started, finished, approved string
	var stopMS, healthMS, windowMS int64
	err := s.Scan(&e.ID, &e.Library, &e.From.BuildID, &e.From.Path, &e.To.BuildID, &e.To.Path,
		&kind, &e.Restart.Command, &e.Restart.Signal, &stopMS,
		&e.Health.Command, &healthMS, &e.Window.Cron, &windowMS, &e.Reason,
		&state, &e.Attempts, &e.Interruptions, &e.Progress, &e.Owner,
		&created, &updated, &started, &finished, &e.LastError,
		&e.Install.From, &e.Install.SHA256, &e.Install.Version, &e.Findings, &e.ApprovedBy, &approved)
	if err != nil {
		return Entry{}, err
	}
	e.Restart.Kind = ActionKind(kind)
	e.State = State(state)
	e.Restart.StopTimeout = time.Duration(stopMS) * time.Millisecond
	e.Health.Timeout = time.Duration(healthMS) * time.Millisecond
	e.Window.Duration = time.Duration(windowMS) * time.Millisecond
	for _, f := range []struct {
		s string
		t *time.Time
	}{{created, &e.Created}, {updated, &e.Updated}, {started, &e.Started}, {finished, &e.Finished}, {approved, &e.Approved}} {
		if *f.t, err = parseTime(f.s); err != nil {
			return Entry{}, fmt.Errorf("entry %d: %w", e.ID, err)
		}
	}
	return e, nil
}
