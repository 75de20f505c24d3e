package gate

import (
	"context"

	"github.com/compatgate/compatgate/gate/inject"
)

// Engine is what the gate needs from an injection engine. InjectEngine is
// the real one (package gate/inject); the interface documents the contract.
type Engine interface {
	// Apply hot-upgrades process pid from the build in oldPath (the one the
	// process maps, possibly as a deleted or replaced file) to the build in
	// newPath. Unless the status is ok, the process is left as it was.
	// drain selects the drain model (inject.Options.Drain): threads inside
	// OLD finish their calls there while new calls go to NEW. The gate sets
	// it exactly when OLD and NEW are known to share every private layout
	// (Decision.Drain).
	Apply(ctx context.Context, pid int, oldPath, newPath string, drain bool) ProcessResult
	// Revert undoes the latest hot upgrade of the build in oldPath in
	// process pid; not_changed when none is applied.
	Revert(ctx context.Context, pid int, oldPath string) ProcessResult
	// Applied returns the build-ids of the upgrades in effect in pid,
	// oldest first, without stopping it.
	Applied(pid int) ([]string, error)
}

// InjectEngine is the Engine of package gate/inject.
type InjectEngine struct {
	// Options are passed to every call; Options.StateDir holds the
	// engine's journals.
	Options inject.Options
}

// Apply calls inject.Apply, in the drain model when drain is set.
func (e InjectEngine) Apply(ctx context.Context, pid int, oldPath, newPath string, drain bool) ProcessResult {
	opt := e.Options
	opt.Drain = drain
	return fromInject(inject.Apply(ctx, pid, oldPath, newPath, opt), "hot-apply")
}

// Revert calls inject.Revert.
func (e InjectEngine) Revert(ctx context.Context, pid int, oldPath string) ProcessResult {
	return fromInject(inject.Revert(ctx, pid, oldPath, e.Options), "revert")
}

// Applied calls inject.Query.
func (e InjectEngine) Applied(pid int) ([]string, error) {
	st := inject.Query(pid, e.Options)
	if st.Status == inject.StatusError {
		return nil, &engineError{st.Reason}
	}
	var ids []string
	for _, a := range st.Applied {
		ids = append(ids, a.New.BuildID)
	}
	return ids, nil
}

type engineError struct{ reason string }

// Error returns the engine's reason.
func (e *engineError) Error() string { return "injection engine: " + e.reason }

func fromInject(r inject.Result, plan string) ProcessResult {
	return ProcessResult{PID: r.PID, Status: Status(r.Status), Plan: plan, Reason: r.Reason}
}
