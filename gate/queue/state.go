package queue

import (
	"fmt"
	"strings"
)

// State is where an entry is in its life.
type State string

// The entry states.
const (
	// Held waits for an operator: an upgrade that is not installed until
	// approved (queue approve), or a run whose restart is in doubt.
	Held    State = "held"
	Queued  State = "queued"
	Running State = "running"
	// Manual waits for an operator to restart the targets by hand and
	// say so (queue done): the entry has no restart action.
	Manual    State = "manual"
	Done      State = "done"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// States lists every state, in life order.
func States() []State { return []State{Held, Queued, Running, Manual, Done, Failed, Cancelled} }

// transitions is the one place that says which moves are allowed:
// held → queued (approved) or cancelled; queued → running (claimed) or
// cancelled; running → done, failed, manual (installed, the restarts are an
// operator's), held (a restart in doubt), or back to queued when a run is
// interrupted; manual → done or cancelled. Done, failed and cancelled are
// final.
func transitions() map[State][]State {
	return map[State][]State{
		Held:    {Queued, Cancelled},
		Queued:  {Running, Cancelled},
		Running: {Done, Failed, Manual, Held, Queued},
		Manual:  {Done, Cancelled},
	}
}

// canMove reports whether an entry may go from one state to another.
func canMove(from, to State) bool {
	for _, s := range transitions()[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Final reports whether no transition leaves s.
func (s State) Final() bool { return len(transitions()[s]) == 0 }

// ParseState returns the state named s.
func ParseState(s string) (State, error) {
	for _, st := range States() {
		if string(st) == s {
			return st, nil
		}
	}
	names := make([]string, 0, len(States()))
	for _, st := range States() {
		names = append(names, string(st))
	}
	return "", fmt.Errorf("unknown state %q (want %s)", s, strings.Join(names, ", "))
}

// TransitionError is returned when an entry is not in a state from which the
// requested move is allowed.
type TransitionError struct {
	ID       int64
	From, To State
}

// Error says which entry could not move, and why.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("entry %d is %s: it cannot become %s", e.ID, e.From, e.To)
}
