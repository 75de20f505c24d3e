//go:build !unix

package main

// gateCommands returns nothing where the gate cannot run: the checker's
// commands are all there is.
func gateCommands() []command { return nil }
