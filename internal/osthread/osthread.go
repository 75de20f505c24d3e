//go:build linux

// Package osthread runs functions on OS threads of their own, for work
// bound to the thread that does it: Linux binds a ptrace tracee to the
// thread that attached it.
package osthread

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Go runs fn in a new goroutine locked to an OS thread that is not the
// program's main thread, and ends that thread when fn returns: the
// goroutine exits still locked, and the Go runtime then terminates its
// thread (see runtime.LockOSThread), which detaches any tracee fn left
// attached.
//
// The main thread is avoided because the runtime never terminates it: a
// goroutine exiting locked to it leaves it parked, with its tracees stopped
// for as long as the program runs.
func Go(fn func()) {
	go run(fn)
}

// run locks the calling goroutine to its thread and runs fn there, unless
// that is the main thread: then fn runs in a goroutine started meanwhile,
// which cannot be scheduled on the main thread while this one holds it,
// and the caller's thread is unlocked once that goroutine has locked its
// own. Go starts run in a fresh goroutine, so the lock it takes there is
// the only one.
func run(fn func()) {
	runtime.LockOSThread()
	if unix.Gettid() != unix.Getpid() {
		fn()
		return
	}
	locked := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		close(locked)
		fn()
	}()
	<-locked
	runtime.UnlockOSThread()
}
