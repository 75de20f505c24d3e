//go:build linux && amd64

package inject

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/compatgate/compatgate/internal/osthread"
)

// ptraceThread runs closures on one goroutine locked to its OS thread. Linux
// binds a tracee to the thread that attached it: every ptrace request and
// every wait for a tracee must come from that thread, so the engine funnels
// all of them through here (delve's native backend does the same).
//
// The goroutine never unlocks its thread: when stop is called the goroutine
// returns while locked, its thread ends (see osthread.Go), and the kernel
// detaches any tracee the engine could not detach itself.
type ptraceThread struct {
	fns chan func()
}

func startPtraceThread() *ptraceThread {
	pt := &ptraceThread{fns: make(chan func())}
	osthread.Go(func() {
		// Sleeps of this thread end on time (see tracer.waitUntil); it is
		// never unlocked, so the setting dies with it.
		unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
		for fn := range pt.fns {
			fn()
		}
	})
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

// quietSpin is how long the engine spins waiting for an event of the
// target while the world is not stopped, before it sleeps.
const quietSpin = 50 * time.Microsecond

// background sets t.quiet: while the world is not stopped (choosing a
// thread, loading NEW in it, preparing the writes, cleaning up after a
// revert) the engine's own CPU time delays the target's threads, which on
// a machine with few CPUs wait for it to yield; the engine then sleeps
// (precisely, see startPtraceThread) instead of spinning while it waits
// for the target. For the stop of the world, where every microsecond of
// the engine is a microsecond of every thread's pause, it spins.
//
// Lowering the ptrace thread's scheduling priority (nice 10 and 19) was
// tried too: no measurable gain in the target's pauses, and on a busy
// target (threads running at full speed) the operation starved, taking
// several times as long while a thread is borrowed.
func (t *tracer) background(on bool) {
	t.quiet = on
	if on {
		t.relax()
	}
}

// urgent puts the ptrace thread in SCHED_FIFO, at the lowest real-time
// priority, when permitted, once the world is stopped (see stopAll): for
// the check, the writes and the release, where the engine waits for no
// thread of the target, every microsecond of the engine is one of every
// thread's pause. On a loaded machine an ordinary thread is preempted,
// or not scheduled, for a time slice of each of the other runnable
// threads, tens of milliseconds, and so was the stop of the world; and
// each PTRACE_DETACH wakes a thread that could preempt the engine halfway
// through the release, the rest of the threads left stopped meanwhile. A
// released thread runs at once on another CPU, or on the engine's once it
// relaxes (see relax), at the end of the release.
func (t *tracer) urgent() {
	if t.schedPrev != nil {
		return
	}
	prev, err := unix.SchedGetAttr(0, 0)
	if err != nil || unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: 1}, 0) != nil {
		return
	}
	t.schedPrev = prev
}

// relax restores the ptrace thread's scheduling policy after urgent.
func (t *tracer) relax() {
	if t.schedPrev != nil {
		unix.SchedSetAttr(0, t.schedPrev, 0)
		t.schedPrev = nil
	}
}
