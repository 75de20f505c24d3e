package queue

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations is the schema history: migration i, a list of statements,
// brings the database to version i+1. Append new migrations; never edit a released one.
// Timestamps are TEXT in a fixed-width UTC layout (see timeLayout) so that
// they sort and compare the same in every engine; durations are 64-bit
// integer milliseconds. {{id}} and {{int64}} are expanded per dialect.
func migrations() [][]string {
	return [][]string{{
		// 1: entries, their targets, and the audit log.
		`CREATE TABLE entries (
			id {{id}},
			library TEXT NOT NULL,
			from_build_id TEXT NOT NULL,
			from_path TEXT NOT NULL,
			to_build_id TEXT NOT NULL,
			to_path TEXT NOT NULL,
			action_kind TEXT NOT NULL,
			action_command TEXT NOT NULL,
			action_signal TEXT NOT NULL,
			stop_timeout_ms {{int64}} NOT NULL,
			health_command TEXT NOT NULL,
			health_timeout_ms {{int64}} NOT NULL,
			window_cron TEXT NOT NULL,
			window_duration_ms {{int64}} NOT NULL,
			reason TEXT NOT NULL,
			state TEXT NOT NULL,
			attempts INTEGER NOT NULL,
			interruptions INTEGER NOT NULL,
			progress INTEGER NOT NULL,
			owner TEXT NOT NULL,
			created_at TEXT NOT NULL,
			updated_at TEXT NOT NULL,
			started_at TEXT NOT NULL,
			finished_at TEXT NOT NULL,
			last_error TEXT NOT NULL
		)`,
		`CREATE INDEX entries_state ON entries (state, id)`,
		`CREATE TABLE targets (
			entry_id {{int64}} NOT NULL REFERENCES entries (id),
			position INTEGER NOT NULL,
			kind TEXT NOT NULL,
			value TEXT NOT NULL,
			PRIMARY KEY (entry_id, position)
		)`,
		`CREATE TABLE audit (
			id {{id}},
			at TEXT NOT NULL,
			actor TEXT NOT NULL,
			entry_id {{int64}} NOT NULL,
			library TEXT NOT NULL,
			action TEXT NOT NULL,
			outcome TEXT NOT NULL,
			detail TEXT NOT NULL
		)`,
		`CREATE INDEX audit_entry ON audit (entry_id, id)`,
		`CREATE INDEX audit_library ON audit (library, id)`,
	}, {
		// 2: held upgrades (a build installed by the executor once
		// approved), the findings that decided an entry, and the version
		// installed of each library (from release manifests).
		`ALTER TABLE entries ADD COLUMN install_from TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE entries ADD COLUMN install_sha256 TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE entries ADD COLUMN install_version TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE entries ADD COLUMN findings TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE entries ADD COLUMN approved_by TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE entries ADD COLUMN approved_at TEXT NOT NULL DEFAULT ''`,
		`CREATE TABLE versions (
			library TEXT NOT NULL PRIMARY KEY,
			version TEXT NOT NULL,
			sha256 TEXT NOT NULL,
			at TEXT NOT NULL
		)`,
	}}
}

// migrate brings the schema to the newest version, in one transaction.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	all := migrations()
	if version > len(all) {
		return fmt.Errorf("database schema version %d is newer than this compatgate knows (%d)", version, len(all))
	}
	if version == len(all) {
		return nil
	}
	for i := version; i < len(all); i++ {
		for _, stmt := range all[i] {
			if _, err := tx.ExecContext(ctx, d.ddl(stmt)); err != nil {
				return fmt.Errorf("applying schema migration %d: %w", i+1, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return fmt.Errorf("recording schema version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO schema_version (version) VALUES (?)`), len(all)); err != nil {
		return fmt.Errorf("recording schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing schema migration: %w", err)
	}
	return nil
}
