// Package queue is compatgate's durable queue of scheduled restarts.
//
// A library release that cannot be hot-applied to the processes using it
// becomes an [Entry]: which library, from which build to which, the targets
// to restart (a PID, a systemd unit, a PID file or a command), the restart
// action, an optional health command, the reason and, optionally, a
// maintenance [Window]. Entries live in an embedded SQLite database in a state
// directory and survive a crash of compatgate.
//
// An entry moves through the states queued → running → done | failed, or
// queued → cancelled; the allowed moves are the transition table in state.go
// and every move happens in a transaction. An [Executor] claims a queued entry
// with a compare-and-set update, so no entry is run by two executors, and
// restarts its targets one at a time, stopping the rollout at the first
// failure.
//
// Each restart runs under a small supervisor shell that holds a lock on a
// per-target marker file and records the exit status beside it. The
// supervisor is not a child that dies with compatgate: when compatgate is
// killed mid-restart, the next executor waits for the lock and adopts the
// recorded outcome instead of restarting the target again. Entries found
// running at [Open] whose owner process is gone are returned to the queue,
// attempts kept, and the interruption is written to the audit log.
//
// Every decision and action is appended to an audit log ([Queue.Audit],
// [Queue.AuditLog]).
//
// The SQL is kept portable (TEXT and INTEGER columns, RETURNING, no
// SQLite-only statements in the queries); the few differences between
// database engines live in dialect.go.
package queue
