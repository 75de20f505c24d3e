package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// change is one state transition of one entry, with the columns it sets
// besides state and updated_at, and the audit event recorded with it.
type change struct {
	id       int64
	from, to State
	// owner, when not empty, must match the entry's owner (an executor
	// changes only the entries it claimed).
	owner string
	set   []assignment
	event Event
}

// assignment is "column = value" in an UPDATE. Columns come from this
// package, never from input.
type assignment struct {
	column string
	value  any
}

// apply performs c in one transaction: a compare-and-set UPDATE on the
// entry's state (and owner), plus the audit event. It returns a
// *TransitionError when the move is not in the transition table or the entry
// is no longer in state c.from.
func (q *Queue) apply(ctx context.Context, c change) error {
	if !canMove(c.from, c.to) {
		return &TransitionError{ID: c.id, From: c.from, To: c.to}
	}
	now := time.Now()
	query := `UPDATE entries SET state = ?, updated_at = ?`
	args := []any{string(c.to), formatTime(now)}
	for _, a := range c.set {
		query += ", " + a.column + " = " + a.expr()
		if a.value != nil {
			args = append(args, a.value)
		}
	}
	query += ` WHERE id = ? AND state = ?`
	args = append(args, c.id, string(c.from))
	if c.owner != "" {
		query += ` AND owner = ?`
		args = append(args, c.owner)
	}
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return c.wrap(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, q.d.rebind(query), args...)
	if err != nil {
		return c.wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return c.wrap(err)
	}
	if n != 1 {
		var cur string
		err := tx.QueryRowContext(ctx, q.d.rebind(`SELECT state FROM entries WHERE id = ?`), c.id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("entry %d: %w", c.id, ErrNotFound)
		}
		if err != nil {
			return c.wrap(err)
		}
		if State(cur) == c.from {
			return fmt.Errorf("entry %d is %s but owned by another executor", c.id, cur)
		}
		return &TransitionError{ID: c.id, From: State(cur), To: c.to}
	}
	ev := c.event
	ev.Time = now
	ev.EntryID = c.id
	if ev.Library == "" {
		if err := tx.QueryRowContext(ctx, q.d.rebind(`SELECT library FROM entries WHERE id = ?`), c.id).Scan(&ev.Library); err != nil {
			return c.wrap(err)
		}
	}
	if err := q.audit(ctx, tx, ev); err != nil {
		return c.wrap(err)
	}
	return c.wrap(tx.Commit())
}

// wrap adds the change to a database error; nil stays nil.
func (c change) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("moving entry %d from %s to %s: %w", c.id, c.from, c.to, err)
}

// expr is the SQL for the assigned value: a placeholder, or for the
// increment marker, column + 1.
func (a assignment) expr() string {
	if a.value == nil {
		return a.column + " + 1"
	}
	return "?"
}

// increment is an assignment that adds one to its column.
func increment(column string) assignment { return assignment{column: column} }

// Cancel cancels a held, queued or manual entry, recording why. Running
// and finished entries cannot be cancelled.
func (q *Queue) Cancel(ctx context.Context, id int64, why string) error {
	e, err := q.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("cancelling: %w", err)
	}
	if e.State != Queued && e.State != Held && e.State != Manual {
		return fmt.Errorf("cancelling: entry %d is %s: only held, queued and manual entries can be cancelled", id, e.State)
	}
	if q.restartInProgress(e) {
		return fmt.Errorf("cancelling: entry %d: a restart begun by an interrupted run is still in progress; try again when it ends", id)
	}
	err = q.apply(ctx, change{id: id, from: e.State, to: Cancelled,
		set:   []assignment{{"finished_at", formatTime(time.Now())}},
		event: Event{Library: e.Library, Action: "cancel", Outcome: string(Cancelled), Detail: why}})
	if err != nil {
		return fmt.Errorf("cancelling entry %d: %w", id, err)
	}
	return nil
}

// Approve lets a held entry proceed: it is queued, to be run (its build
// installed, its targets restarted) in its window. The approver is the
// context's actor (see WithActor), recorded in the entry and the audit log
// with note. A restart an interrupted run left in doubt runs again.
func (q *Queue) Approve(ctx context.Context, id int64, note string) error {
	return q.approve(ctx, id, note, false)
}

// ConfirmRestarted is Approve for an entry held because a restart is in
// doubt, when the operator checked that the target did restart: that
// restart is taken as done, not run again, and the rollout goes on with
// the next target.
func (q *Queue) ConfirmRestarted(ctx context.Context, id int64, note string) error {
	return q.approve(ctx, id, note, true)
}

func (q *Queue) approve(ctx context.Context, id int64, note string, restarted bool) error {
	e, err := q.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("approving: %w", err)
	}
	if e.State != Held {
		return fmt.Errorf("approving: entry %d is %s: only held entries can be approved", id, e.State)
	}
	doubt := q.inDoubt(e)
	if restarted && doubt < 0 {
		return fmt.Errorf("approving: entry %d has no restart in doubt to confirm", id)
	}
	who := actorOf(ctx)
	detail := "approved by " + who
	if restarted {
		detail = fmt.Sprintf("approved by %s, who confirmed that target %d of %d (%s) restarted", who, doubt+1, len(e.Targets), e.Targets[doubt])
		if err := q.confirmStep(e, doubt, who); err != nil {
			return fmt.Errorf("approving entry %d: %w", id, err)
		}
	}
	if note != "" {
		detail += ": " + note
	}
	err = q.apply(ctx, change{id: id, from: Held, to: Queued,
		set:   []assignment{{"approved_by", who}, {"approved_at", formatTime(time.Now())}, {"last_error", ""}},
		event: Event{Actor: who, Library: e.Library, Action: "approve", Outcome: string(Queued), Detail: detail}})
	if err != nil {
		return fmt.Errorf("approving entry %d: %w", id, err)
	}
	if !restarted {
		q.acknowledgeInDoubt(e)
	}
	return nil
}

// MarkDone closes a manual entry: an operator restarted its targets. The
// operator is the context's actor, recorded with note in the audit log.
func (q *Queue) MarkDone(ctx context.Context, id int64, note string) error {
	e, err := q.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("closing: %w", err)
	}
	if e.State != Manual {
		return fmt.Errorf("closing: entry %d is %s: only manual entries are closed by hand", id, e.State)
	}
	detail := fmt.Sprintf("%d target(s) restarted by hand", len(e.Targets))
	if note != "" {
		detail += ": " + note
	}
	err = q.apply(ctx, change{id: id, from: Manual, to: Done,
		set:   []assignment{{"progress", len(e.Targets)}, {"finished_at", formatTime(time.Now())}},
		event: Event{Library: e.Library, Action: "done", Outcome: string(Done), Detail: detail}})
	if err != nil {
		return fmt.Errorf("closing entry %d: %w", id, err)
	}
	return nil
}

// park ends a running entry of this process in state held or manual: it
// waits for an operator, for the reason why.
func (q *Queue) park(ctx context.Context, e Entry, to State, why string) error {
	return q.apply(ctx, change{id: e.ID, from: Running, to: to, owner: q.owner,
		set:   []assignment{{"owner", ""}, {"last_error", why}},
		event: Event{Library: e.Library, Action: "wait", Outcome: string(to), Detail: why}})
}

// claim makes a queued entry running and owned by this process. It fails
// with a *TransitionError when another executor claimed it first.
func (q *Queue) claim(ctx context.Context, e Entry) error {
	detail := fmt.Sprintf("attempt %d by %s", e.Attempts+1, q.owner)
	if e.Interruptions > 0 {
		detail += fmt.Sprintf(" (retry after %d interruption(s); %d of %d target(s) already restarted)", e.Interruptions, e.Progress, len(e.Targets))
	}
	return q.apply(ctx, change{id: e.ID, from: Queued, to: Running,
		set: []assignment{increment("attempts"), {"owner", q.owner},
			{"started_at", formatTime(time.Now())}, {"last_error", ""}},
		event: Event{Library: e.Library, Action: "claim", Outcome: string(Running), Detail: detail}})
}

// finish ends a running entry of this process as done or failed.
func (q *Queue) finish(ctx context.Context, e Entry, to State, errText string) error {
	outcome := Event{Library: e.Library, Action: "finish", Outcome: string(to), Detail: errText}
	if to == Done {
		outcome.Detail = fmt.Sprintf("%d target(s) restarted", len(e.Targets))
	}
	return q.apply(ctx, change{id: e.ID, from: Running, to: to, owner: q.owner,
		set:   []assignment{{"owner", ""}, {"finished_at", formatTime(time.Now())}, {"last_error", errText}},
		event: outcome})
}

// requeue returns an interrupted running entry to the queue, attempts and
// progress kept, counting the interruption. owner is the entry's owner.
func (q *Queue) requeue(ctx context.Context, e Entry, owner, why string) error {
	return q.apply(ctx, change{id: e.ID, from: Running, to: Queued, owner: owner,
		set:   []assignment{{"owner", ""}, increment("interruptions"), {"last_error", "interrupted: " + why}},
		event: Event{Library: e.Library, Action: "interrupted", Outcome: "requeued", Detail: why + fmt.Sprintf("; will be retried (attempts so far %d, %d of %d target(s) restarted)", e.Attempts, e.Progress, len(e.Targets))}})
}

// advance records that target number e.Progress was restarted.
func (q *Queue) advance(ctx context.Context, e Entry) error {
	res, err := q.db.ExecContext(ctx, q.d.rebind(`UPDATE entries SET progress = ?, updated_at = ?
		WHERE id = ? AND state = ? AND owner = ? AND progress = ?`),
		e.Progress+1, formatTime(time.Now()), e.ID, string(Running), q.owner, e.Progress)
	if err != nil {
		return fmt.Errorf("recording progress of entry %d: %w", e.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("recording progress of entry %d: entry changed under this executor", e.ID)
	}
	return nil
}

// Recover returns to the queue, attempts and progress kept, every running
// entry whose owner is a process of this host that no longer exists, and
// records each interruption in the audit log. Open calls it; a long-running
// executor calls it through RunDue.
func (q *Queue) Recover(ctx context.Context) error {
	running, err := q.List(ctx, Filter{States: []State{Running}})
	if err != nil {
		return fmt.Errorf("recovering interrupted entries: %w", err)
	}
	for _, e := range running {
		if !ownerGone(e.Owner) {
			continue
		}
		err := q.requeue(WithActor(ctx, "recovery"), e, e.Owner, fmt.Sprintf("executor %s stopped while running the entry", e.Owner))
		var te *TransitionError
		if errors.As(err, &te) {
			continue // someone else recovered or finished it meanwhile
		}
		if err != nil {
			return fmt.Errorf("recovering entry %d: %w", e.ID, err)
		}
	}
	return nil
}
