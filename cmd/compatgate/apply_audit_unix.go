//go:build unix

package main

import (
	"os/user"

	"github.com/compatgate/compatgate/gate/queue"
)

// auditForce records an `apply --force` in the audit log of the queue in
// stateDir (`compatgate log` shows it), before anything is applied.
func auditForce(e env, stateDir, library, detail string) error {
	actor := "cli"
	if u, err := user.Current(); err == nil {
		actor = "cli:" + u.Username
	}
	ctx := queue.WithActor(e.ctx, actor)
	q, err := queue.Open(ctx, stateDir)
	if err != nil {
		return err
	}
	defer q.Close()
	return q.Audit(ctx, queue.Event{Library: library, Action: "apply-force", Outcome: "forced", Detail: detail})
}
