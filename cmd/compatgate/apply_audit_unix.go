//go:build unix

package main

import (
	"github.com/compatgate/compatgate/gate/queue"
)

// auditForce records an `apply --force` in the audit log of the queue in
// stateDir (`compatgate log` shows it), before anything is applied.
func auditForce(e env, stateDir, library, detail string) error {
	q, e, err := (&stateFlags{dir: stateDir}).open(e)
	if err != nil {
		return err
	}
	defer q.Close()
	return q.Audit(e.ctx, queue.Event{Library: library, Action: "apply-force", Outcome: "forced", Detail: detail})
}
