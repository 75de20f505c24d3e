package gate

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/compatgate/compatgate/gate/queue"
)

// RollbackOutcome is what Rollback did.
type RollbackOutcome struct {
	Library string `json:"library"`
	// From is the build that was installed, To the kept previous build
	// that is installed again.
	From *Facts `json:"from"`
	To   *Facts `json:"to"`
	// Restored reports that the file was reinstalled (false: it already
	// was the previous build).
	Restored bool `json:"restored"`
	// Processes are those hot-applied processes found mapping the
	// previous build, each with the engine's revert status.
	Processes []ProcessResult `json:"processes"`
	// Restarted are the processes that run From because they were
	// restarted onto it: a rollback cannot revert them; restart them again.
	Restarted []int `json:"restarted,omitempty"`
	// Cancelled are the queued restart entries onto From that were
	// withdrawn.
	Cancelled []int64 `json:"cancelled,omitempty"`
	Status    Status  `json:"status"`
}

// Rollback undoes the latest upgrade of the library at lib: it reverts the
// hot upgrade in every process that maps the previous build (through the
// engine), cancels the queued restarts onto the current build, and
// reinstalls the previous build kept at PrevPath(lib) atomically. It can be
// run again after an interruption; processes already restarted onto the
// current build are not touched, only listed in Restarted (restart them
// again after the rollback).
func (u *Upgrader) Rollback(ctx context.Context, lib string) (*RollbackOutcome, error) {
	if real, err := realPath(lib); err == nil {
		lib = real // as Upgrade did
	}
	if u.Queue != nil {
		unlock, err := lockLibrary(ctx, u.Queue.Dir(), lib)
		if err != nil {
			return nil, fmt.Errorf("rolling back %s: %w", lib, err)
		}
		defer unlock()
	}
	prev := PrevPath(lib)
	to, err := ReadFacts(prev)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("rolling back %s: no previous build kept at %s", lib, prev)
	}
	if err != nil {
		return nil, fmt.Errorf("rolling back %s: %w", lib, err)
	}
	from, err := ReadFacts(lib)
	if err != nil {
		return nil, fmt.Errorf("rolling back %s: %w", lib, err)
	}
	out := &RollbackOutcome{Library: lib, From: from, To: to}
	req := Request{Library: lib}
	audit := func(action, outcome, detail string) { u.audit(ctx, req, action, outcome, detail) }

	procs, err := u.findMapping(lib, prev, to)
	if err != nil {
		return nil, fmt.Errorf("rolling back %s: %w", lib, err)
	}
	for _, p := range procs {
		m, ok := p.Maps(to.BuildID)
		if !ok {
			if _, onFrom := p.Maps(from.BuildID); onFrom {
				out.Restarted = append(out.Restarted, p.PID)
			}
			continue
		}
		if u.Engine == nil {
			continue
		}
		if applied, err := u.Engine.Applied(p.PID); err == nil && len(applied) == 0 {
			continue // never hot-applied: nothing to revert
		}
		r := u.Engine.Revert(ctx, p.PID, oldPathFor(m, lib))
		r.PID, r.Plan = p.PID, "revert"
		if r.Status == StatusNotChanged || r.Status == StatusNotLoaded {
			continue // never hot-applied
		}
		audit("revert", string(r.Status), fmt.Sprintf("pid %d: %s", p.PID, orDash(r.Reason)))
		out.Processes = append(out.Processes, r)
	}

	if u.Queue != nil && from.SHA256 != to.SHA256 {
		queued, err := u.Queue.List(ctx, queue.Filter{States: []queue.State{queue.Queued}, Library: lib})
		if err != nil {
			return nil, fmt.Errorf("rolling back %s: %w", lib, err)
		}
		for _, e := range queued {
			if e.To.BuildID != from.BuildID && e.To.BuildID != "sha256:"+from.SHA256 {
				continue
			}
			if err := u.Queue.Cancel(ctx, e.ID, "rolled back to "+orNone(to.BuildID)); err != nil {
				return nil, fmt.Errorf("rolling back %s: %w", lib, err)
			}
			out.Cancelled = append(out.Cancelled, e.ID)
		}
	}

	if from.SHA256 != to.SHA256 {
		if err := keep(prev, lib); err != nil {
			audit("rollback", "failed", err.Error())
			return nil, fmt.Errorf("rolling back %s: reinstalling %s: %w", lib, prev, err)
		}
		out.Restored = true
	}
	out.Status = Worst(out.Processes, StatusOK)
	audit("rollback", string(out.Status), fmt.Sprintf("%s → %s: file %s, %d process(es) reverted, %d entr(ies) cancelled",
		orNone(from.BuildID), orNone(to.BuildID), map[bool]string{true: "reinstalled", false: "already the previous build"}[out.Restored],
		len(out.Processes), len(out.Cancelled)))
	return out, nil
}
