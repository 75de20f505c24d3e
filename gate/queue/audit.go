package queue

import (
	"context"
	"database/sql"
	"fmt"
	"os/user"
	"strings"
	"time"
)

// Event is one line of the audit log: a decision or an action, and how it
// turned out.
type Event struct {
	ID      int64     `json:"id"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`              // who acted: see WithActor
	EntryID int64     `json:"entry_id,omitempty"` // 0 when not about one entry
	Library string    `json:"library,omitempty"`
	Action  string    `json:"action"`  // e.g. "enqueue", "claim", "restart", "health"
	Outcome string    `json:"outcome"` // e.g. "queued", "ok", "failed"
	Detail  string    `json:"detail,omitempty"`
}

// AuditFilter selects audit events. Zero fields select everything.
type AuditFilter struct {
	EntryID int64
	Library string
	Since   time.Time // at or after
	Until   time.Time // before
	Limit   int       // the newest Limit events; 0 means all
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// actorKey is the context key of the acting party.
type actorKey struct{}

// WithActor returns a context whose queue operations are recorded in the
// audit log as done by actor (e.g. "cli:alice", "serve").
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// actorOf returns the actor set by WithActor, or the name of the user
// running this process.
func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// Audit appends ev to the audit log. Its ID is assigned; a zero Time is
// set to now, an empty Actor to the context's actor (see WithActor).
func (q *Queue) Audit(ctx context.Context, ev Event) error {
	if ev.Action == "" {
		return fmt.Errorf("appending to audit log: event has no action")
	}
	if err := q.audit(ctx, q.db, ev); err != nil {
		return fmt.Errorf("appending to audit log: %w", err)
	}
	return nil
}

// audit appends ev through x, which may be a transaction so that the event
// is recorded with the change it describes.
func (q *Queue) audit(ctx context.Context, x execer, ev Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if ev.Actor == "" {
		ev.Actor = actorOf(ctx)
	}
	_, err := x.ExecContext(ctx, q.d.rebind(`INSERT INTO audit (at, actor, entry_id, library, action, outcome, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`),
		formatTime(ev.Time), ev.Actor, ev.EntryID, ev.Library, ev.Action, ev.Outcome, ev.Detail)
	return err
}

// AuditLog returns the audit events matching f, oldest first.
func (q *Queue) AuditLog(ctx context.Context, f AuditFilter) ([]Event, error) {
	var where []string
	var args []any
	if f.EntryID != 0 {
		where = append(where, "entry_id = ?")
		args = append(args, f.EntryID)
	}
	if f.Library != "" {
		where = append(where, "library = ?")
		args = append(args, f.Library)
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, formatTime(f.Until))
	}
	query := `SELECT id, at, actor, entry_id, library, action, outcome, detail FROM audit`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC"
	if f.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := q.db.QueryContext(ctx, q.d.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var ev Event
		var at string
		if err := rows.Scan(&ev.ID, &at, &ev.Actor, &ev.EntryID, &ev.Library, &ev.Action, &ev.Outcome, &ev.Detail); err != nil {
			return nil, fmt.Errorf("reading audit log: %w", err)
		}
		if ev.Time, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("reading audit log: event %d: %w", ev.ID, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	// Newest were selected first so that Limit keeps the newest; show them
	// in the order they happened.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
