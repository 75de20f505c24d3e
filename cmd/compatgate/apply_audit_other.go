//go:build !unix

package main

import "errors"

// auditForce fails where there is no audit log (nor a gate).
func auditForce(e env, stateDir, library, detail string) error {
	return errors.New("no audit log on this system")
}
