//go:build linux && amd64

package inject

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// confirmDrain, after an apply in the drain model (see Options.Drain) that
// left threads tids inside OLD, watches them leave it, the process running:
// until no thread has OLD code on its stack or the busy budget has passed.
// It records in the journal (generation gi) and in the result how many
// were still inside OLD when it stopped watching.
//
// No thread is kept stopped while the engine waits: a thread blocked in
// a system call is looked at through /proc; a running one is stopped for
// the moment its stack is read (see lookAll). With the entries redirected, a
// thread that left OLD does not come back (see the README: only calls
// from OLD's own code and function pointers taken before the switch still
// reach it), so the watch ends once each thread was seen outside.
func (o *op) confirmDrain(gi int, exits map[uint64]bool, tids []int) error {
	t, err := o.tracer()
	if err != nil {
		return err
	}
	defer t.release()
	t.background(true)
	left, err := t.drain(o.old, exits, tids, time.Now().Add(o.opt.BusyTimeout))
	if err != nil {
		return err
	}
	o.res.Undrained = left
	g := &o.j.Generations[gi]
	g.Draining, g.Undrained, g.DrainChecked = o.res.Draining, left, time.Now().UTC()
	return o.j.save()
}

// drain looks at threads tids, again and again at those with code of lib
// on their stacks (at none of exits), with backoff, until none has or
// deadline passes; it returns how many still had.
func (t *tracer) drain(lib loaded, exits map[uint64]bool, tids []int, deadline time.Time) (int, error) {
	// Threads the process creates meanwhile are none of the engine's
	// business: they run.
	t.runNew = true
	var u *unwinder // the objects' CFI, read once for every pass
	backoff := 200 * time.Microsecond
	for {
		maps, err := readMaps(t.pid)
		if err != nil {
			return 0, t.goneOr(err)
		}
		s := newScanner(t, lib, maps)
		s.exits = exits
		if u == nil {
			u = newUnwinder(t.pid, maps, t.read)
		}
		u.maps = maps
		s.unwind = u
		still, err := t.lookAll(s, tids)
		if err != nil {
			return 0, err
		}
		if len(still) == 0 || time.Now().After(deadline) {
			return len(still), nil
		}
		tids = still
		time.Sleep(backoff)
		backoff = min(2*backoff, 20*time.Millisecond)
	}
}

// lookAll returns those of threads tids that have code of the scanner's
// library on their stacks, the process running. A thread blocked in a
// system call is looked at through /proc: its frames cannot change under
// the read until it wakes, and one still inside when it wakes is looked
// at again. The others are interrupted all at once, and each is looked at
// and released as soon as it stops: on a loaded machine a running thread
// may take tens of milliseconds to be scheduled and stop, and one at a
// time the watch of a hundred took seconds per pass. No thread is held
// but for its own look; threads not in tids are never stopped.
func (t *tracer) lookAll(s *scanner, tids []int) ([]int, error) {
	var still []int
	var pending []*thread
	for _, tid := range tids {
		pt, err := readProcSyscall(t.pid, tid)
		if err != nil {
			continue // exited
		}
		if t.threads[tid] == nil && pt.inSyscall() {
			if busy, ok := s.blockedBusy(pt); ok {
				if busy {
					still = append(still, tid)
				}
				continue
			}
		}
		th, err := t.traceOne(tid)
		if err != nil {
			return nil, err
		}
		if th == nil {
			continue // exited meanwhile
		}
		if !th.stopped {
			if err := interrupt(th); err != nil {
				return nil, err
			}
		}
		pending = append(pending, th)
	}
	deadline := time.Now().Add(stopOneTimeout)
	for len(pending) > 0 {
		err := t.waitUntil(deadline, func() bool {
			for _, th := range pending {
				if t.threads[th.tid] != th || th.stopped {
					return true
				}
			}
			return false
		})
		if errors.Is(err, errGone) && t.alive() {
			err = nil
		}
		if err != nil {
			return nil, t.goneOr(err)
		}
		rest := pending[:0]
		for _, th := range pending {
			switch {
			case t.threads[th.tid] != th:
				// Exited.
			case !th.stopped:
				rest = append(rest, th)
			default:
				in, err := t.examine(s, th)
				if err != nil {
					return nil, err
				}
				if in {
					still = append(still, th.tid)
				}
			}
		}
		pending = rest
	}
	return still, nil
}

// examine reports whether stopped thread th has code of the scanner's
// library on its stack, and detaches it.
func (t *tracer) examine(s *scanner, th *thread) (bool, error) {
	busy, err := s.stoppedBusy(th.tid)
	if derr := t.detachOne(th); err == nil {
		err = derr
	}
	if err != nil {
		return false, t.goneOr(err)
	}
	return busy, nil
}

// look reports whether thread tid has code of the scanner's library on
// its stack (false when the thread has exited), the thread left running;
// with hold, it leaves the thread stopped when it has none. A thread
// traced before look (the hijacked one) is resumed rather than detached
// when it has.
func (t *tracer) look(s *scanner, tid int, hold bool) (bool, error) {
	pt, err := readProcSyscall(t.pid, tid)
	if err != nil {
		return false, nil // exited
	}
	traced := t.threads[tid] != nil
	if !hold && !traced && pt.inSyscall() {
		if busy, ok := s.blockedBusy(pt); ok {
			return busy, nil
		}
	}
	th, err := t.stopOne(tid)
	if err != nil || th == nil {
		return false, err
	}
	busy, err := s.stoppedBusy(tid)
	if err == nil && !busy && hold {
		return false, nil
	}
	var rerr error
	if traced {
		rerr = t.resume(th)
	} else {
		rerr = t.detachOne(th)
	}
	if err == nil {
		err = rerr
	}
	if err != nil {
		return false, t.goneOr(err)
	}
	return busy, nil
}

// blockedBusy reports whether thread pt, blocked in a system call, has
// code of the scanner's library on its stack, looked at through /proc
// without stopping it: its frames cannot change under the read until it
// wakes, and one still inside when it wakes is looked at again. ok is
// false when its stack could not be read so.
func (s *scanner) blockedBusy(pt procThread) (busy, ok bool) {
	res, err := s.scanAt(pt.tid, pt.pc, pt.sp)
	if err != nil {
		return false, false
	}
	var regs frameRegs // of a thread not stopped, /proc gives only these
	regs.set(dwRSP, pt.sp)
	return s.walkedBusy(res, pt.pc, regs), true
}

// stoppedBusy reports whether stopped thread tid has code of the
// scanner's library on its stack.
func (s *scanner) stoppedBusy(tid int) (bool, error) {
	var r unix.PtraceRegs
	if err := unix.PtraceGetRegs(tid, &r); err != nil {
		return false, fmt.Errorf("reading registers of thread %d: %w", tid, err)
	}
	res, err := s.scanAt(tid, r.Rip, r.Rsp)
	if err != nil {
		return false, err
	}
	return s.walkedBusy(res, r.Rip, regsFromPtrace(&r)), nil
}

// walkedBusy is res.busy, the scan's answer for a thread at pc with
// registers regs, unless the scanner has an unwinder (see unwind.go) and
// the thread's frames, walked by their CFI to the outermost one, show
// that the OLD code the scan found on its stack is only what earlier
// calls left there: no frame runs OLD's code.
func (s *scanner) walkedBusy(res scanResult, pc uint64, regs frameRegs) bool {
	if !res.busy || s.unwind == nil || s.text.contains(pc) {
		return res.busy
	}
	ras, err := s.unwind.returnAddresses(pc, regs)
	if err != nil {
		return true
	}
	for _, ra := range ras {
		if s.text.contains(ra) {
			return true
		}
	}
	return false
}
