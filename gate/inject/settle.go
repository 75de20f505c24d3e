//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

const maxStackScan = 8 << 20

// scanResult is what a stack scan found in one thread.
type scanResult struct {
	busy   bool
	reason string
	ret    uint64 // the return address out of OLD to run to, 0 if unknown
}

// scanner checks stopped threads for OLD code on their stacks.
type scanner struct {
	t    *tracer
	old  loaded
	maps []mapping
	rets map[uint64]bool // cache of looksLikeReturn by address
}

func (s *scanner) isReturn(a uint64) bool {
	if v, ok := s.rets[a]; ok {
		return v
	}
	var b [8]byte
	ok := s.t.read(a-8, b[:]) == nil && looksLikeReturn(b)
	s.rets[a] = ok
	return ok
}

func (s *scanner) inExec(a uint64) bool {
	m, ok := findMapping(s.maps, a)
	return ok && m.exec()
}

// scan reports whether th has OLD code on its stack: its instruction
// pointer in OLD's text, or, scanning conservatively every aligned word of
// the live stack (RSP up to the top of its mapping), a word that points
// into OLD's text just after a call instruction.
func (s *scanner) scan(th *thread) (scanResult, error) {
	var r unix.PtraceRegs
	if err := unix.PtraceGetRegs(th.tid, &r); err != nil {
		return scanResult{}, s.t.goneOr(fmt.Errorf("reading registers of thread %d: %w", th.tid, err))
	}
	inOld := s.old.inText(r.Rip)
	m, ok := findMapping(s.maps, r.Rsp)
	if !ok {
		return scanResult{busy: true, reason: fmt.Sprintf("thread %d: stack pointer %#x outside any mapping", th.tid, r.Rsp)}, nil
	}
	start := r.Rsp &^ 7
	end := min(m.end, start+maxStackScan)
	buf := make([]byte, end-start)
	if err := s.t.read(start, buf); err != nil {
		return scanResult{}, err
	}
	top := uint64(0)
	if inOld {
		top = start
	}
	hits := 0
	for off := 0; off+8 <= len(buf); off += 8 {
		w := binary.LittleEndian.Uint64(buf[off:])
		if s.old.inText(w) && s.isReturn(w) {
			top = start + uint64(off) + 8
			hits++
		}
	}
	if !inOld && hits == 0 {
		return scanResult{}, nil
	}
	res := scanResult{busy: true}
	if inOld {
		res.reason = fmt.Sprintf("thread %d is executing OLD code at %#x", th.tid, r.Rip)
	} else {
		res.reason = fmt.Sprintf("thread %d has %d return address(es) into OLD on its stack", th.tid, hits)
	}
	// The outermost OLD frame returns to the first plausible return address
	// above the last hit that is outside OLD.
	for off := top - start; off+8 <= uint64(len(buf)); off += 8 {
		w := binary.LittleEndian.Uint64(buf[off:])
		if !s.old.inText(w) && s.inExec(w) && s.isReturn(w) {
			res.ret = w
			break
		}
	}
	return res, nil
}

// settle makes sure no thread has OLD code on its stack. A busy thread is
// let run alone (the others stay stopped) to the return address out of OLD,
// caught by a hardware breakpoint, in slices, until deadline; then busy.
// It returns "" when the world is consistent, else the reason it is busy.
func (t *tracer) settle(old loaded, deadline time.Time) (string, error) {
	for {
		// Threads created by a thread that ran alone start stopped;
		// collect their first stop.
		if err := t.waitUntil(time.Now().Add(stopTimeout), t.allStopped); err != nil {
			return "", err
		}
		maps, err := readMaps(t.pid)
		if err != nil {
			return "", t.goneOr(err)
		}
		s := &scanner{t: t, old: old, maps: maps, rets: map[uint64]bool{}}
		tids := make([]int, 0, len(t.threads))
		for tid := range t.threads {
			tids = append(tids, tid)
		}
		sort.Ints(tids)
		type busyThread struct {
			th  *thread
			res scanResult
		}
		var busy []busyThread
		for _, tid := range tids {
			th := t.threads[tid]
			res, err := s.scan(th)
			if err != nil {
				return "", err
			}
			if res.busy {
				busy = append(busy, busyThread{th, res})
			}
		}
		if len(busy) == 0 {
			return "", nil
		}
		if !time.Now().Before(deadline) {
			return busy[0].res.reason, nil
		}
		for _, b := range busy {
			if err := t.runToReturn(b.th, b.res.ret, deadline); err != nil {
				return "", err
			}
			if t.threads[b.th.tid] == nil {
				continue // exited
			}
		}
	}
}

// runToReturn lets th alone run until it reaches ret (when known), for at
// most one 50ms slice, and stops it again.
func (t *tracer) runToReturn(th *thread, ret uint64, deadline time.Time) error {
	slice := min(time.Until(deadline), 50*time.Millisecond)
	if slice <= 0 {
		return nil
	}
	end := time.Now().Add(slice)
	if ret != 0 {
		if err := setHWBreak(th.tid, ret); err != nil {
			return t.goneOr(err)
		}
		th.hwbp = true
		defer func() {
			if t.threads[th.tid] != nil {
				clearHWBreak(th.tid)
			}
			th.hwbp = false
		}()
	}
	for {
		if err := t.resume(th); err != nil {
			return err
		}
		err := t.waitStopped(th, end)
		if err == errTimeout {
			return t.interruptAndWait(th, time.Now().Add(2*time.Second))
		}
		if err != nil {
			if t.threads[th.tid] == nil && t.alive() {
				return nil // the thread exited: nothing left on its stack
			}
			return err
		}
		if th.kind == stopSignal && th.sig == int(unix.SIGTRAP) && ret != 0 {
			var r unix.PtraceRegs
			if unix.PtraceGetRegs(th.tid, &r) == nil && r.Rip == ret {
				th.sig = 0
				return nil
			}
		}
		// Any other stop: the signal is passed on by resume.
	}
}
