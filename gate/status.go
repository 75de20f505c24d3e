package gate

// Status is the outcome of an upgrade for one process, and overall.
type Status string

// The statuses, from best to worst. ok, not_changed, not_loaded, busy,
// refused and error are the injection engine's (DESIGN.md); queued means
// a restart of the process was enqueued instead, held that its restart
// waits for an operator to approve an incompatible upgrade.
const (
	StatusOK         Status = "ok"          // hot-applied (or reverted)
	StatusNotChanged Status = "not_changed" // already at this version
	StatusNotLoaded  Status = "not_loaded"  // the process does not map the library
	StatusQueued     Status = "queued"      // a restart is queued for it
	StatusHeld       Status = "held"        // its restart waits for an incompatible upgrade to be approved
	StatusBusy       Status = "busy"        // a thread stayed in the old library
	StatusRefused    Status = "refused"     // the gate or the engine said no
	StatusError      Status = "error"       // the operation failed
)

// rank orders the statuses from best to worst.
func (s Status) rank() int {
	for i, x := range []Status{StatusOK, StatusNotChanged, StatusNotLoaded, StatusQueued, StatusHeld, StatusBusy, StatusRefused, StatusError} {
		if s == x {
			return i
		}
	}
	return 100
}

// Success reports whether s is an upgrade carried out or on its way: ok,
// not_changed, not_loaded, queued (the restart will carry the upgrade out)
// and held (it waits for approval: nothing was lost).
func (s Status) Success() bool { return s.rank() <= StatusHeld.rank() }

// Worst returns the worst status of the processes, or def when there are none.
func Worst(ps []ProcessResult, def Status) Status {
	if len(ps) == 0 {
		return def
	}
	w := ps[0].Status
	for _, p := range ps[1:] {
		if p.Status.rank() > w.rank() {
			w = p.Status
		}
	}
	return w
}

// ProcessResult is what the gate did, or would do, with one process.
type ProcessResult struct {
	PID    int    `json:"pid"`
	Status Status `json:"status,omitempty"` // empty in a dry run
	// Plan is what the gate does with the process: "hot-apply",
	// "restart" or "revert".
	Plan   string `json:"plan,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Target is how the restart entry names the process (e.g.
	// "unit=foo.service"); Entry is that entry's ID.
	Target string `json:"target,omitempty"`
	Entry  int64  `json:"entry,omitempty"`
}
