//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const maxStackScan = 8 << 20

// scanResult is what a stack scan found in one thread: busy, it must
// move before the words are written; draining, it runs OLD's code but may
// finish its calls there (see scanner.torn).
type scanResult struct {
	busy     bool
	draining bool
	reason   string
}

// scanner checks stopped threads for OLD code on their stacks.
type scanner struct {
	t    *tracer
	old  loaded
	maps []mapping
	rets map[uint64]bool // cache of looksLikeReturn by address
	text ranges          // OLD's executable mappings
	buf  []byte          // reused by scanAt for the stacks it reads
	// fresh is true when maps were read with every thread stopped.
	fresh bool
	// torn, when not nil, switches the scanner to the drain model (see
	// Options.Drain): only a thread executing, or returning into, the bytes
	// the writes replace (torn: every byte of a new jump but its first,
	// every byte of a padding jump) is busy; one with other OLD code on its
	// stack is draining.
	torn *ranges
	// exits are the redirected entries (and their jumps, after an endbr64
	// kept in place): in the drain model a thread about to execute one is
	// about to leave OLD, not inside it.
	exits map[uint64]bool
	// unwind, when not nil, walks the frames of a thread the scan finds
	// inside OLD, to tell its frames from what earlier calls left on its
	// stack (see walkedBusy). Only the drain watch, with the process
	// running, takes the time.
	unwind *unwinder
}

// ranges is a set of address ranges with their overall bounds, for a test
// cheap enough to run on every word of every stack.
type ranges struct {
	lo, hi uint64
	rs     []addrRange
}

func newRanges(rs []addrRange) ranges {
	r := ranges{lo: ^uint64(0), rs: rs}
	for _, x := range rs {
		r.lo, r.hi = min(r.lo, x.lo), max(r.hi, x.hi)
	}
	return r
}

func (r *ranges) contains(a uint64) bool {
	if a < r.lo || a >= r.hi {
		return false
	}
	for _, x := range r.rs {
		if a >= x.lo && a < x.hi {
			return true
		}
	}
	return false
}

// newScanner returns a scanner for OLD in the process with mappings maps.
func newScanner(t *tracer, old loaded, maps []mapping) *scanner {
	var rs []addrRange
	for _, m := range old.maps {
		if m.exec() {
			rs = append(rs, addrRange{m.start, m.end})
		}
	}
	return &scanner{t: t, old: old, maps: maps, rets: map[uint64]bool{}, text: newRanges(rs)}
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

// stackRange returns the live stack of a thread whose stack pointer is
// rsp: from rsp up to the top of its mapping (at most maxStackScan bytes);
// ok is false when rsp is outside any mapping.
func (s *scanner) stackRange(rsp uint64) (start, end uint64, ok bool) {
	m, ok := findSortedMapping(s.maps, rsp)
	if !ok {
		return 0, 0, false
	}
	start = rsp &^ 7
	return start, min(m.end, start+maxStackScan), true
}

// findSortedMapping is findMapping for maps in address order, as
// /proc/PID/maps lists them: a binary search, falling back to a linear one
// when it finds nothing (maps out of order).
func findSortedMapping(maps []mapping, a uint64) (mapping, bool) {
	i := sort.Search(len(maps), func(i int) bool { return maps[i].end > a })
	if i < len(maps) && maps[i].contains(a) {
		return maps[i], true
	}
	return findMapping(maps, a)
}

// threadStack returns the live stack of a thread with registers r. A
// thread created by the C library (glibc, musl) has its thread control
// block, which the FS base points to, at the top of its stack mapping,
// above its static TLS and every frame of the thread: its live stack is
// then [rsp, fs_base), usually a page or two, instead of the rest of the
// mapping. Otherwise (the main thread, threads of other runtimes, a thread
// on an alternate stack) it is up to the top of the mapping, which must
// then be known for sure: fresh is false when the mapping was taken from
// maps read before the thread stopped, and the caller reads them again.
func (s *scanner) threadStack(r *unix.PtraceRegs, stoppedBefore bool) (start, end uint64, ok, fresh bool) {
	m, ok := findSortedMapping(s.maps, r.Rsp)
	if !ok {
		return 0, 0, false, s.fresh
	}
	start = r.Rsp &^ 7
	if fs := r.Fs_base; fs > r.Rsp && fs < m.end && fs-r.Rsp <= maxStackScan {
		return start, (fs + 8) &^ 7, true, true
	}
	return start, min(m.end, start+maxStackScan), true, s.fresh || stoppedBefore
}

// scanAt reports whether thread tid, at instruction pointer rip and stack
// pointer rsp, has OLD code on its stack (see check); it reads the stack.
func (s *scanner) scanAt(tid int, rip, rsp uint64) (scanResult, error) {
	start, end, ok := s.stackRange(rsp)
	if !ok {
		return s.check(tid, rip, rsp, nil), nil
	}
	if uint64(cap(s.buf)) < end-start {
		s.buf = make([]byte, end-start)
	}
	buf := s.buf[:end-start]
	if err := s.t.read(start, buf); err != nil {
		return scanResult{}, err
	}
	return s.check(tid, rip, rsp, buf), nil
}

// check reports whether a thread at instruction pointer rip, with stack
// pointer rsp and live stack stack, has OLD code on its stack: rip in OLD's
// text, or, scanning conservatively every aligned word of the live stack,
// a word that points into OLD's text just after a call instruction.
func (s *scanner) check(tid int, rip, rsp uint64, stack []byte) scanResult {
	return s.verdict(tid, rip, rsp, stack, s.candidates(stack, nil))
}

// candidates appends to out the aligned words of stack that point into
// OLD's text, the only ones check looks at further. It reads nothing but
// s.text: it may run on any goroutine.
func (s *scanner) candidates(stack []byte, out []uint64) []uint64 {
	// Every word is first tested against the overall bounds of OLD's
	// text with a single comparison; only the rare word inside them is
	// looked at further.
	lo, span := s.text.lo, s.text.hi-s.text.lo
	words := stack[:len(stack)&^7]
	if uintptr(unsafe.Pointer(unsafe.SliceData(words)))%8 == 0 {
		// amd64 is little-endian: the words as they are in memory.
		for _, w := range unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(words))), len(words)/8) {
			if w-lo < span && s.text.contains(w) {
				out = append(out, w)
			}
		}
	} else {
		for off := 0; off+8 <= len(words); off += 8 {
			w := binary.LittleEndian.Uint64(words[off : off+8])
			if w-lo < span && s.text.contains(w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// verdict is check's answer for a thread whose live stack, read as stack,
// held the words cands pointing into OLD's text (see candidates).
func (s *scanner) verdict(tid int, rip, rsp uint64, stack []byte, cands []uint64) scanResult {
	if stack == nil {
		return scanResult{busy: true, reason: fmt.Sprintf("thread %d: stack pointer %#x outside any mapping", tid, rsp)}
	}
	inOld := s.text.contains(rip) && !s.exits[rip]
	hits, torn := 0, 0
	for _, w := range cands {
		if s.isReturn(w) {
			hits++
			if s.torn != nil && s.torn.contains(w) {
				torn++
			}
		}
	}
	if !inOld && hits == 0 {
		return scanResult{}
	}
	if s.torn != nil {
		switch {
		case s.torn.contains(rip):
			return scanResult{busy: true, reason: fmt.Sprintf("thread %d is executing bytes the upgrade replaces, at %#x", tid, rip)}
		case torn > 0:
			return scanResult{busy: true, reason: fmt.Sprintf("thread %d has a return address into bytes the upgrade replaces", tid)}
		}
		return scanResult{draining: true}
	}
	res := scanResult{busy: true}
	if inOld {
		res.reason = fmt.Sprintf("thread %d is executing OLD code at %#x", tid, rip)
	} else {
		res.reason = fmt.Sprintf("thread %d has %d return address(es) into OLD on its stack", tid, hits)
	}
	return res
}

// scanAll checks every thread of ths (stopped) and returns the busy ones,
// the first reason and the draining ones. The registers are those read when each thread was
// found stopped (see collectStops), or read now; the stacks are read all at
// once with process_vm_readv, on two CPUs (see stackReader), falling back
// to one read per stack. before tells which threads were stopped before
// s.maps was read.
func (s *scanner) scanAll(ths []*thread, before map[int]bool) ([]*thread, string, []int, error) {
	regs := make([]*unix.PtraceRegs, len(ths))
	type span struct{ start, end uint64 }
	spans := make([]span, len(ths))
	for i, th := range ths {
		r, err := s.t.regsOf(th)
		if err != nil {
			return nil, "", nil, err
		}
		regs[i] = r
	}
	for pass := 0; ; pass++ {
		stale := false
		for i, th := range ths {
			start, end, ok, fresh := s.threadStack(regs[i], before[th.tid])
			if !fresh {
				stale = true
				break
			}
			spans[i] = span{}
			if ok {
				spans[i] = span{start, end}
			}
		}
		if !stale || pass > 0 {
			break
		}
		maps, err := readStackMaps(s.t.pid)
		if err != nil {
			return nil, "", nil, s.t.goneOr(err)
		}
		s.maps, s.fresh = maps, true
	}
	total := uint64(0)
	for _, sp := range spans {
		total += sp.end - sp.start
	}
	buf := s.t.scanBuf
	if uint64(cap(buf)) < total {
		buf = make([]byte, total)
		s.t.scanBuf = buf
	}
	buf = buf[:total]
	stacks := make([][]byte, len(ths))
	off := uint64(0)
	for i, sp := range spans {
		if sp.end > sp.start {
			stacks[i] = buf[off : off+sp.end-sp.start : off+sp.end-sp.start]
			off += sp.end - sp.start
		}
	}
	// One range per non-empty stack; owner[k] is the thread of range k,
	// cands[k] the words of its stack pointing into OLD's text, found by
	// whichever goroutine read the range.
	local := make([]unix.Iovec, 0, len(ths))
	remote := make([]unix.RemoteIovec, 0, len(ths))
	owner := make([]int, 0, len(ths))
	for i := range ths {
		if len(stacks[i]) > 0 {
			local = append(local, unix.Iovec{Base: &stacks[i][0], Len: uint64(len(stacks[i]))})
			remote = append(remote, unix.RemoteIovec{Base: uintptr(spans[i].start), Len: len(stacks[i])})
			owner = append(owner, i)
		}
	}
	cands := make([][]uint64, len(local))
	found := func(lo, hi int) {
		for k := lo; k < hi; k++ {
			cands[k] = s.candidates(stacks[owner[k]], nil)
		}
	}
	if !s.t.reader.read(s.t.memTID, local, remote, found) {
		for _, i := range owner {
			if err := s.t.read(spans[i].start, stacks[i]); err != nil {
				return nil, "", nil, err
			}
		}
		found(0, len(local))
	}
	var busy []*thread
	reason, draining := "", []int(nil)
	k := 0
	for i, th := range ths {
		var st []byte // nil: outside any mapping
		var cs []uint64
		if spans[i].end != 0 {
			st = stacks[i][:len(stacks[i]):len(stacks[i])]
			if st == nil {
				st = []byte{}
			}
		}
		if k < len(owner) && owner[k] == i {
			cs = cands[k]
			k++
		}
		res := s.verdict(th.tid, regs[i].Rip, regs[i].Rsp, st, cs)
		if res.draining {
			draining = append(draining, th.tid)
		}
		if res.busy {
			busy = append(busy, th)
			if reason == "" {
				reason = res.reason
			}
		}
	}
	return busy, reason, draining, nil
}

// scanBufPerThread is the room prepareScanBuf makes for each thread's live
// stack: usually its frames, static TLS and padding below its thread
// control block, 2-3 KiB with glibc (see threadStack).
const scanBufPerThread = 4 << 10

// prepareScanBuf makes sure, before the world is stopped, that t.scanBuf
// can hold the live stacks of every thread in the usual case, with its
// pages faulted in. It returns the number of threads it counted.
func (t *tracer) prepareScanBuf() int {
	n := len(t.threads)
	if tids, err := listTasks(t.pid); err == nil {
		n = max(n, len(tids))
	}
	want := (n + 32) * scanBufPerThread
	if cap(t.scanBuf) >= want {
		return n
	}
	t.scanBuf = make([]byte, want)
	for i := 0; i < len(t.scanBuf); i += 4096 {
		t.scanBuf[i] = 1
	}
	return n
}

// settle stops the world (see stopAll) and makes sure no thread has OLD
// code on its stack (with torn, the drain model: no thread executes or
// returns into the bytes the writes replace, and it returns the threads
// draining). It returns "" when the world is stopped and consistent, else
// the reason it is busy.
//
// The busy threads are first let run on together, the others stopped, in
// slices growing from 100µs, each followed by an interrupt and a new scan,
// for at most inStopBudget: threads that call OLD all the time leave it
// one by one (one caught outside stays stopped), and none enters it anew.
// Should they not all leave within it, the world is not kept stopped
// longer: every thread but keep (the thread that ran dlopen, needed
// stopped should the operation be undone) is released, the busy ones are
// watched, the process running, until each was seen outside once (see
// watchLeave), and the world is stopped again; until deadline, then busy.
// A thread with OLD code on its stack may need the others to run before it
// can leave (a lock, a pipe), and one sent signals is stopped again by
// each of them while it runs alone. No breakpoint is used to catch a
// thread at its return address: a debug register or an int3 left armed by
// an engine that dies would kill the thread with SIGTRAP.
func (t *tracer) settle(keep *thread, old loaded, torn *ranges, exits map[uint64]bool, deadline time.Time) (string, []int, error) {
	for {
		if err := t.stopAll(t.stopDeadline()); err != nil {
			return "", nil, err
		}
		busy, reason, draining, err := t.check(old, torn, exits, t.preMaps, t.preStopped)
		slice, spent := 100*time.Microsecond, time.Duration(0)
		for ; err == nil && len(busy) > 0; slice = min(2*slice, 5*time.Millisecond) {
			frozen, ferr := t.frozen(busy)
			if ferr != nil {
				return "", nil, ferr
			}
			if frozen {
				// In a group-stop: resumed only with PTRACE_LISTEN, they
				// would not move.
				return reason + stoppedNote, nil, nil
			}
			if spent >= inStopBudget || !time.Now().Before(deadline) {
				break
			}
			if err := t.runFor(busy, min(slice, time.Until(deadline))); err != nil {
				return "", nil, err
			}
			spent += slice
			// Threads run by runFor may have changed the mappings.
			busy, reason, draining, err = t.check(old, torn, exits, nil, nil)
		}
		if err != nil || len(busy) == 0 {
			return "", draining, err
		}
		if !time.Now().Before(deadline) {
			return reason, nil, nil
		}
		if err := t.detachOthers(keep, t.stopDeadline()); err != nil {
			return "", nil, err
		}
		t.background(true)
		tids := make([]int, len(busy))
		for i, th := range busy {
			tids[i] = th.tid
		}
		left, err := t.watchLeave(keep, old, torn, exits, tids, deadline)
		if err != nil {
			return "", nil, err
		}
		if !left {
			return reason, nil, nil
		}
	}
}

// inStopBudget bounds how long settle lets busy threads run alone with
// the rest of the world stopped, per stop of the world.
const inStopBudget = 20 * time.Millisecond

// frozen reports whether every thread of busy (stopped) is in a
// group-stop, collecting their stops first.
func (t *tracer) frozen(busy []*thread) (bool, error) {
	frozen := true
	for _, th := range busy {
		if err := t.reap(th); err != nil {
			return false, err
		}
		if t.threads[th.tid] != th {
			frozen = false // exited: look again
			continue
		}
		frozen = frozen && th.groupStop && th.kind == stopEvent
	}
	return frozen, nil
}

// runFor lets threads ths (stopped) run for d, then stops them again.
// Threads exiting meanwhile are forgotten. The engine is an ordinary
// thread meanwhile (see urgent): it waits for the target.
func (t *tracer) runFor(ths []*thread, d time.Duration) error {
	t.relax()
	defer t.urgent()
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
		if err := interrupt(th); err != nil {
			return err
		}
	}
	return t.waitUntil(t.stopDeadline(), func() bool {
		for _, th := range ths {
			if t.threads[th.tid] != nil && !th.stopped {
				return false
			}
		}
		return true
	})
}

// check scans every thread, the world stopped, and returns the busy
// threads, the first reason and the draining threads (see scanAll). pre,
// when not nil, is the process's mappings read just before the world was
// stopped, with stoppedBefore the threads stopped already then (see
// threadStack); they spare a read of /proc/PID/maps with the world stopped.
func (t *tracer) check(old loaded, torn *ranges, exits map[uint64]bool, pre []mapping, stoppedBefore map[int]bool) ([]*thread, string, []int, error) {
	// Threads created by a thread that ran start stopped; collect
	// their first stop.
	if !t.allStopped() {
		if err := t.waitUntil(t.stopDeadline(), t.allStopped); err != nil {
			return nil, "", nil, err
		}
	}
	s := newScanner(t, old, pre)
	s.torn, s.exits = torn, exits
	if pre == nil {
		maps, err := readStackMaps(t.pid)
		if err != nil {
			return nil, "", nil, t.goneOr(err)
		}
		s.maps, s.fresh = maps, true
	}
	tids := make([]int, 0, len(t.threads))
	for tid := range t.threads {
		tids = append(tids, tid)
	}
	sort.Ints(tids)
	ths := make([]*thread, len(tids))
	for i, tid := range tids {
		ths[i] = t.threads[tid]
	}
	return s.scanAll(ths, stoppedBefore)
}

// watchLeave watches threads tids, the process running, until each was
// seen once without OLD code on its stack (as the scanner of settle tells:
// with torn, only the bytes the writes replace count) or exited, or until
// deadline (false). Each look stops one thread alone for the moment its
// stack is read, or reads it through /proc while it is blocked (see
// inside). keep, if among tids, is let run while it is watched and left
// stopped once seen outside; the last thread seen outside is left stopped
// too, so that the next stop of the world finds it outside.
func (t *tracer) watchLeave(keep *thread, old loaded, torn *ranges, exits map[uint64]bool, tids []int, deadline time.Time) (bool, error) {
	for _, tid := range tids {
		if keep != nil && tid == keep.tid && t.threads[tid] == keep {
			if err := t.resume(keep); err != nil {
				return false, err
			}
		}
	}
	t.runNew = true // threads the hijacked one starts meanwhile run
	backoff := 100 * time.Microsecond
	for {
		maps, err := readMaps(t.pid)
		if err != nil {
			return false, t.goneOr(err)
		}
		s := newScanner(t, old, maps)
		s.torn, s.exits = torn, exits
		var still []int
		for i, tid := range tids {
			hold := len(still) == 0 && i == len(tids)-1
			if keep != nil && tid == keep.tid {
				hold = true
			}
			in, err := t.look(s, tid, hold)
			if err != nil {
				return false, err
			}
			if in {
				still = append(still, tid)
			}
		}
		if len(still) == 0 {
			return true, nil
		}
		if !time.Now().Before(deadline) {
			return false, nil
		}
		tids = still
		time.Sleep(backoff)
		backoff = min(2*backoff, 10*time.Millisecond)
	}
}
