package queue

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Entry is one scheduled restart: the processes that must restart so that a
// library upgrade takes effect in them.
type Entry struct {
	ID      int64  `json:"id"`
	Library string `json:"library"` // path of the library being upgraded
	From    Build  `json:"from"`
	To      Build  `json:"to"`

	Targets []Target `json:"targets"` // restarted in this order
	Restart Action   `json:"restart"`
	Health  Health   `json:"health,omitzero"`
	Window  Spec     `json:"window,omitzero"` // zero: may run at any time
	Reason  string   `json:"reason"`
	// Install, when its From is set, is a build installed at Library by the
	// executor right before the restarts (an upgrade held for approval).
	Install Install `json:"install,omitzero"`
	// Findings are the check's findings that decided the entry, one a line.
	Findings string `json:"findings,omitempty"`
	// ApprovedBy is who approved a held entry (queue approve), and when.
	ApprovedBy string    `json:"approved_by,omitempty"`
	Approved   time.Time `json:"approved,omitzero"`

	State         State  `json:"state"`
	Attempts      int    `json:"attempts"`      // times an executor claimed the entry
	Interruptions int    `json:"interruptions"` // runs cut short by a crash or cancellation
	Progress      int    `json:"progress"`      // targets restarted successfully so far
	Owner         string `json:"owner,omitempty"`
	LastError     string `json:"last_error,omitempty"`

	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
}

// Retried reports whether the entry was interrupted at least once and so is
// (or was) run again.
func (e *Entry) Retried() bool { return e.Interruptions > 0 }

// Install is a build to install at the entry's library before its
// restarts: a verified copy kept in the state directory.
type Install struct {
	From    string `json:"from"`              // the copy to install
	SHA256  string `json:"sha256"`            // its SHA-256, checked before installing
	Version string `json:"version,omitempty"` // its version, from a release manifest
}

// IsZero reports whether there is nothing to install.
func (i Install) IsZero() bool { return i.From == "" }

// Build identifies one build of the library.
type Build struct {
	BuildID string `json:"build_id"`
	Path    string `json:"path"`
}

// TargetKind says how a target names the processes to restart.
type TargetKind string

// The target kinds.
const (
	TargetPID     TargetKind = "pid"     // a process ID
	TargetUnit    TargetKind = "unit"    // a systemd unit name
	TargetPIDFile TargetKind = "pidfile" // an absolute path to a file holding a PID
	TargetCommand TargetKind = "command" // a command name, for the restart action to interpret
)

// Target is one thing to restart.
type Target struct {
	Kind  TargetKind `json:"kind"`
	Value string     `json:"value"`
}

// String returns the target as kind=value, the form ParseTarget reads.
func (t Target) String() string { return string(t.Kind) + "=" + t.Value }

// ParseTarget parses kind=value, e.g. "pid=1234" or "unit=nginx.service".
func ParseTarget(s string) (Target, error) {
	kind, value, ok := strings.Cut(s, "=")
	if !ok {
		return Target{}, fmt.Errorf("target %q: want kind=value with kind pid, unit, pidfile or command", s)
	}
	t := Target{Kind: TargetKind(kind), Value: value}
	if err := t.validate(); err != nil {
		return Target{}, err
	}
	return t, nil
}

func (t Target) validate() error {
	switch t.Kind {
	case TargetPID:
		if pid, err := strconv.Atoi(t.Value); err != nil || pid <= 0 {
			return fmt.Errorf("target %s: not a positive process ID", t)
		}
	case TargetUnit:
		if t.Value == "" || strings.ContainsAny(t.Value, " \t\n/") {
			return fmt.Errorf("target %s: not a systemd unit name", t)
		}
	case TargetPIDFile:
		if !filepath.IsAbs(t.Value) {
			return fmt.Errorf("target %s: the PID file must be an absolute path", t)
		}
	case TargetCommand:
		if strings.TrimSpace(t.Value) == "" {
			return fmt.Errorf("target %s: empty command", t)
		}
	default:
		return fmt.Errorf("target %s: unknown kind %q (want pid, unit, pidfile or command)", t, t.Kind)
	}
	return nil
}

// ActionKind says how a target is restarted.
type ActionKind string

// The restart action kinds.
const (
	// ActionCommand runs Command with /bin/sh -c, the target in the
	// environment (see the Executor documentation).
	ActionCommand ActionKind = "command"
	// ActionSignal sends Signal to the target's process, waits up to
	// StopTimeout for it to exit, then runs Command (the relaunch, may be
	// empty when a supervisor relaunches) as ActionCommand does. It needs a
	// pid or pidfile target.
	ActionSignal ActionKind = "signal"
	// ActionManual has no command: an operator restarts the targets and
	// closes the entry (queue done). The executor only installs.
	ActionManual ActionKind = "manual"
)

// Action is the restart action of an entry.
type Action struct {
	Kind        ActionKind    `json:"kind"`
	Command     string        `json:"command,omitempty"`
	Signal      string        `json:"signal,omitempty"`       // e.g. "TERM", for ActionSignal
	StopTimeout time.Duration `json:"stop_timeout,omitempty"` // for ActionSignal; zero means DefaultStopTimeout
}

// DefaultStopTimeout is how long a signal restart waits for the process to
// exit when the action does not say.
const DefaultStopTimeout = 30 * time.Second

// DefaultHealthTimeout bounds a health command when the entry does not say.
const DefaultHealthTimeout = 30 * time.Second

// signals are the signal names a signal action may send.
func signals() []string { return []string{"HUP", "INT", "QUIT", "TERM", "KILL", "USR1", "USR2"} }

// Health is the check run after each target restarts.
type Health struct {
	Command string        `json:"command,omitempty"` // run with /bin/sh -c; empty: no check
	Timeout time.Duration `json:"timeout,omitempty"` // zero means DefaultHealthTimeout
}

// Spec is a maintenance window as stored with an entry: a cron expression and
// how long the window stays open. The zero Spec means "no window".
type Spec struct {
	Cron     string        `json:"cron"`
	Duration time.Duration `json:"duration"`
}

// IsZero reports whether the spec names no window.
func (s Spec) IsZero() bool { return s.Cron == "" && s.Duration == 0 }

// Validate checks the entry as Enqueue would, without touching the queue.
func (e *Entry) Validate() error {
	if strings.TrimSpace(e.Library) == "" {
		return fmt.Errorf("entry has no library")
	}
	if len(e.Targets) == 0 && e.Install.IsZero() {
		return fmt.Errorf("entry for %s has no targets", e.Library)
	}
	if !e.Install.IsZero() && (!filepath.IsAbs(e.Install.From) || len(e.Install.SHA256) != 64) {
		return fmt.Errorf("entry for %s: install needs an absolute path and a SHA-256", e.Library)
	}
	for _, t := range e.Targets {
		if err := t.validate(); err != nil {
			return err
		}
	}
	switch e.Restart.Kind {
	case ActionCommand:
		if strings.TrimSpace(e.Restart.Command) == "" {
			return fmt.Errorf("restart action: empty command")
		}
		if e.Restart.Signal != "" {
			return fmt.Errorf("restart action: a signal needs the signal kind")
		}
	case ActionSignal:
		ok := false
		for _, s := range signals() {
			ok = ok || e.Restart.Signal == s
		}
		if !ok {
			return fmt.Errorf("restart action: unknown signal %q (want one of %s)", e.Restart.Signal, strings.Join(signals(), ", "))
		}
		for _, t := range e.Targets {
			if t.Kind != TargetPID && t.Kind != TargetPIDFile {
				return fmt.Errorf("restart action: a signal restart needs pid or pidfile targets, not %s", t)
			}
		}
	case ActionManual:
		if e.Restart.Command != "" || e.Restart.Signal != "" {
			return fmt.Errorf("restart action: a manual restart has no command or signal")
		}
	default:
		return fmt.Errorf("restart action: unknown kind %q (want command, signal or manual)", e.Restart.Kind)
	}
	if e.Restart.StopTimeout < 0 || e.Health.Timeout < 0 {
		return fmt.Errorf("negative timeout")
	}
	if e.Health.Command == "" && e.Health.Timeout != 0 {
		return fmt.Errorf("health timeout without a health command")
	}
	if !e.Window.IsZero() {
		if _, err := ParseWindow(e.Window.Cron, e.Window.Duration, time.Local); err != nil {
			return err
		}
	}
	return nil
}
