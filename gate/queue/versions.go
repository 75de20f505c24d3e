package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// InstalledVersion returns the version of the build installed at library,
// as recorded by SetInstalledVersion; "" when none is known.
func (q *Queue) InstalledVersion(ctx context.Context, library string) (version, sha256 string, err error) {
	err = q.db.QueryRowContext(ctx, q.d.rebind(`SELECT version, sha256 FROM versions WHERE library = ?`), library).Scan(&version, &sha256)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("reading the installed version of %s: %w", library, err)
	}
	return version, sha256, nil
}

// SetInstalledVersion records that the build with this SHA-256 and version
// is installed at library.
func (q *Queue) SetInstalledVersion(ctx context.Context, library, version, sha256 string) error {
	_, err := q.db.ExecContext(ctx, q.d.rebind(`INSERT INTO versions (library, version, sha256, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (library) DO UPDATE SET version = excluded.version, sha256 = excluded.sha256, at = excluded.at`),
		library, version, sha256, formatTime(time.Now()))
	if err != nil {
		return fmt.Errorf("recording the installed version of %s: %w", library, err)
	}
	return nil
}
