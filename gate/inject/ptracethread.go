//go:build linux && amd64

package inject

import (
	"fmt"
	"runtime"
)

// ptraceThread runs closures on one goroutine locked to its OS thread. Linux
// binds a tracee to the thread that attached it: every ptrace request and
// every wait for a tracee must come from that thread, so the engine funnels
// all of them through here (delve's native backend does the same).
//
// The goroutine never unlocks its thread: when stop is called the goroutine
// returns while locked, the Go runtime terminates the OS thread, and the
// kernel detaches any tracee the engine could not detach itself.
type ptraceThread struct {
	fns chan func()
}

func startPtraceThread() *ptraceThread {
	pt := &ptraceThread{fns: make(chan func())}
	go func() {
		runtime.LockOSThread()
		for fn := range pt.fns {
			fn()
		}
	}()
	return pt
}

// do runs fn on the ptrace thread and returns its error; a panic in fn is
// returned as an error rather than crashing the program.
func (pt *ptraceThread) do(fn func() error) error {
	errc := make(chan error, 1)
	pt.fns <- func() {
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("internal error on the ptrace thread: %v", r)
			}
		}()
		errc <- fn()
	}
	return <-errc
}

// stop ends the ptrace thread.
func (pt *ptraceThread) stop() { close(pt.fns) }
