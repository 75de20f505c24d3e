package queue

import "fmt"

// State is where an entry is in its life.
type State string

// The entry states.
const (
	Queued    State = "queued"
	Running   State = "running"
	Done      State = "done"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// States lists every state, in life order.
func States() []State { return []State{Queued, Running, Done, Failed, Cancelled} }

// transitions is the one place that says which moves are allowed:
// queued → running (claimed) or cancelled; running → done, failed, or back to
// queued when a run is interrupted. Done, failed and cancelled are final.
func transitions() map[State][]State {
	return map[State][]State{
		Queued:  {Running, Cancelled},
		Running: {Done, Failed, Queued},
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
	return "", fmt.Errorf("unknown state %q (want queued, running, done, failed or cancelled)", s)
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
