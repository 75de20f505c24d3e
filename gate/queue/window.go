package queue

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Window is a recurring maintenance window: it opens at each time matched by
// a standard five-field cron expression (or a descriptor such as "@daily")
// and stays open for a duration. Times are evaluated in the window's
// location, the host's time zone unless the expression starts with
// CRON_TZ=Zone.
type Window struct {
	spec  Spec
	loc   *time.Location
	sched cron.Schedule
}

// ParseWindow parses a window from a cron expression and a duration, in loc
// (use time.Local for the host's time zone).
func ParseWindow(expr string, d time.Duration, loc *time.Location) (Window, error) {
	if expr == "" {
		return Window{}, fmt.Errorf("maintenance window: empty cron expression")
	}
	if d <= 0 {
		return Window{}, fmt.Errorf("maintenance window %q: duration must be positive, not %v", expr, d)
	}
	sched, err := cron.ParseStandard(expr)
	if err != nil {
		return Window{}, fmt.Errorf("maintenance window %q: %w", expr, err)
	}
	if loc == nil {
		loc = time.Local
	}
	w := Window{spec: Spec{Cron: expr, Duration: d}, loc: loc, sched: sched}
	if w.sched.Next(time.Now().In(loc)).IsZero() {
		return Window{}, fmt.Errorf("maintenance window %q never opens", expr)
	}
	return w, nil
}

// Spec returns the expression and duration the window was parsed from.
func (w Window) Spec() Spec { return w.spec }

// Contains reports whether the window is open at t: some opening time s
// has s <= t < s+duration.
func (w Window) Contains(t time.Time) bool {
	if w.sched == nil {
		return false
	}
	// The first opening strictly after t-duration is the only candidate.
	s := w.sched.Next(t.Add(-w.spec.Duration).In(w.loc))
	return !s.IsZero() && !s.After(t)
}

// Next returns the earliest time at or after t at which the window is open:
// t itself when the window is open at t, else the next opening. It returns
// the zero time when the window never opens again.
func (w Window) Next(t time.Time) time.Time {
	if w.sched == nil {
		return time.Time{}
	}
	if w.Contains(t) {
		return t
	}
	return w.sched.Next(t.In(w.loc))
}
