package inject

import (
	"os"
	"path/filepath"
	"time"
)

// Status is the outcome of an operation on one process.
type Status string

// The per-process statuses, from best to worst.
const (
	// StatusOK means the operation was carried out.
	StatusOK Status = "ok"
	// StatusNotChanged means there was nothing to do: NEW is already
	// applied (apply) or nothing is applied (revert).
	StatusNotChanged Status = "not_changed"
	// StatusNotLoaded means the process does not map OLD; it was not touched.
	StatusNotLoaded Status = "not_loaded"
	// StatusBusy means a thread kept running OLD code beyond the budget; the
	// process was left exactly as it was.
	StatusBusy Status = "busy"
	// StatusRefused means the engine will not hot-apply NEW (the reason says
	// why); the process was left as it was.
	StatusRefused Status = "refused"
	// StatusError means the operation failed (the reason says how); every
	// write already made was rolled back.
	StatusError Status = "error"
)

// rank orders statuses from best (0) to worst.
func (s Status) rank() int {
	switch s {
	case StatusOK:
		return 0
	case StatusNotChanged:
		return 1
	case StatusNotLoaded:
		return 2
	case StatusBusy:
		return 3
	case StatusRefused:
		return 4
	default:
		return 5
	}
}

// Success reports whether s counts as a success for the exit status: ok,
// not_changed and not_loaded do, busy, refused and error do not.
func (s Status) Success() bool { return s.rank() <= StatusNotLoaded.rank() }

// Worst returns the worst status among results, or StatusOK for none.
func Worst(results []Result) Status {
	w := StatusOK
	for _, r := range results {
		if r.Status.rank() > w.rank() {
			w = r.Status
		}
	}
	return w
}

// Library identifies one build of a shared library.
type Library struct {
	Path    string `json:"path"`
	BuildID string `json:"build_id,omitempty"`
	// Base is the load bias of the library in the process, when mapped.
	Base uint64 `json:"base,omitempty"`
	// Patch is the version in a patch object's .patchinfo section.
	Patch string `json:"patch,omitempty"`
}

// Result is the outcome of Apply or Revert for one process.
type Result struct {
	PID    int    `json:"pid"`
	Status Status `json:"status"`
	// Reason explains every status but ok.
	Reason string   `json:"reason,omitempty"`
	Old    *Library `json:"old,omitempty"`
	New    *Library `json:"new,omitempty"`
	// Functions is the number of exported functions redirected (apply) or
	// restored (revert).
	Functions int `json:"functions,omitempty"`
	// StoppedMicros is how long every thread of the process was stopped
	// for the consistency check and the writes, in microseconds.
	StoppedMicros int64 `json:"stopped_us,omitempty"`
	// Draining is the number of threads that were inside OLD at the switch
	// and were let finish their calls there (Options.Drain); Undrained,
	// how many of them still were when the engine stopped watching, after
	// the busy budget (0: the drain is confirmed).
	Draining  int `json:"draining,omitempty"`
	Undrained int `json:"undrained,omitempty"`
	// ViaGOT is the number of functions whose entry could not take a
	// jump, redirected instead through GOTSlots words of the other loaded
	// objects that import them (see README, "Live upgrades").
	ViaGOT   int `json:"via_got,omitempty"`
	GOTSlots int `json:"got_slots,omitempty"`

	hijacked []int // threads borrowed for remote calls, for the tests
}

// Applied describes one upgrade recorded in the journal of a process.
type Applied struct {
	Old       Library   `json:"old"`
	New       Library   `json:"new"`
	State     string    `json:"state"`
	Functions int       `json:"functions"`
	Time      time.Time `json:"time"`
	// Intact reports whether the process memory still holds exactly the
	// journaled bytes.
	Intact bool `json:"intact"`
	// Draining and Undrained are the apply's (see Result), Undrained as
	// of DrainChecked.
	Draining     int       `json:"draining,omitempty"`
	Undrained    int       `json:"undrained,omitempty"`
	DrainChecked time.Time `json:"drain_checked,omitzero"`
}

// ProcessState is what Query reports about one process.
type ProcessState struct {
	PID    int    `json:"pid"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Applied lists the upgrades in effect, oldest first.
	Applied []Applied `json:"applied"`
}

// Options tune the engine. The zero value is usable.
type Options struct {
	// StateDir holds the journal; DefaultStateDir() when empty.
	StateDir string
	// BusyTimeout bounds how long the engine waits, the process running,
	// for a thread found in OLD code (in the drain model: in the bytes
	// the writes replace) to leave it, how long it waits for a thread in
	// a state safe for dlopen, and how long it watches draining threads;
	// 2s when zero.
	BusyTimeout time.Duration
	// CallTimeout is the watchdog of a remote call (dlopen); 10s when zero.
	CallTimeout time.Duration
	// StopTimeout bounds how long stopping every thread for the switch
	// may take before the operation gives up (error, nothing written),
	// and every other wait of the operation for threads to stop (to
	// release the process, to stop it again after a busy thread left);
	// 5s when zero.
	StopTimeout time.Duration
	// Drain selects the drain model: apply redirects at once even when
	// threads are inside OLD, lets them finish their calls there, and
	// confirms the drain afterwards (Result.Draining, Result.Undrained);
	// only a thread executing the very bytes being replaced is waited
	// for. New calls then run NEW's code on objects OLD's code is still
	// working on: set it only when OLD and NEW share every private layout
	// (DESIGN.md, "Hot-applicability"). Without it, apply waits until no
	// thread has OLD code on its stack, up to BusyTimeout, else busy.
	Drain bool
}

// defaultStopTimeout bounds how long stopping every thread may take, unless
// Options.StopTimeout says otherwise.
const defaultStopTimeout = 5 * time.Second

func (o Options) withDefaults() Options {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir()
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 2 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 10 * time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = defaultStopTimeout
	}
	return o
}

// DefaultStateDir returns the journal directory: /var/lib/compatgate for
// root, else $XDG_STATE_HOME/compatgate or ~/.local/state/compatgate.
func DefaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/compatgate"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "compatgate")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "compatgate")
	}
	return filepath.Join(os.TempDir(), "compatgate-state")
}
