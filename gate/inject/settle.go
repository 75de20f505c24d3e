//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"errors"
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
	hits := 0
	for off := 0; off+8 <= len(buf); off += 8 {
		w := binary.LittleEndian.Uint64(buf[off:])
		if s.old.inText(w) && s.isReturn(w) {
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
	return res, nil
}

// settle makes sure no thread has OLD code on its stack. The busy threads
// are let run on together (the others stay stopped) in slices growing from
// 100µs to 5ms, each followed by an interrupt and a new scan, until none is
// busy or deadline passes; then busy. No breakpoint is used to catch a
// thread at its return address: a debug register or an int3 left armed by
// an engine that dies would kill the thread with SIGTRAP, and a random stop
// point leaves a loop calling OLD soon enough.
// It returns "" when the world is consistent, else the reason it is busy.
func (t *tracer) settle(old loaded, deadline time.Time) (string, error) {
	slice := 100 * time.Microsecond
	for {
		// Threads created by a thread that ran start stopped; collect
		// their first stop.
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
		var busy []*thread
		reason := ""
		for _, tid := range tids {
			th := t.threads[tid]
			res, err := s.scan(th)
			if err != nil {
				return "", err
			}
			if res.busy {
				busy = append(busy, th)
				if reason == "" {
					reason = res.reason
				}
			}
		}
		if len(busy) == 0 {
			return "", nil
		}
		if !time.Now().Before(deadline) {
			return reason, nil
		}
		if err := t.runFor(busy, min(slice, time.Until(deadline))); err != nil {
			return "", err
		}
		slice = min(2*slice, 5*time.Millisecond)
	}
}

// runFor lets threads ths (stopped) run for d, then stops them again.
// Threads exiting meanwhile are forgotten.
func (t *tracer) runFor(ths []*thread, d time.Duration) error {
	for _, th := range ths {
		if err := t.resume(th); err != nil {
			return err
		}
	}
	if err := t.waitUntil(time.Now().Add(d), func() bool { return false }); err != nil && !errors.Is(err, errTimeout) {
		return err
	}
	for _, th := range ths {
		if t.threads[th.tid] == nil || th.stopped {
			continue
		}
		if err := ptrace(unix.PTRACE_INTERRUPT, th.tid, 0, 0); err != nil && err != unix.ESRCH {
			return fmt.Errorf("interrupting thread %d: %w", th.tid, err)
		}
	}
	return t.waitUntil(time.Now().Add(stopTimeout), func() bool {
		for _, th := range ths {
			if t.threads[th.tid] != nil && !th.stopped {
				return false
			}
		}
		return true
	})
}
