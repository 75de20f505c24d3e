//go:build linux && amd64

package inject

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Revert undoes the latest upgrade of OLD (oldPath) in process pid: every
// word written is restored exactly from the journal, and the trampoline
// pages are unmapped once the process is released. Neither library is
// unmapped: NEW stays loaded, since objects created while it was in effect
// may point into its data (see cleanUp). Revert also completes a revert of
// an operation interrupted by a crash of the engine.
func Revert(ctx context.Context, pid int, oldPath string, opt Options) Result {
	o := &op{ctx: ctx, opt: opt.withDefaults(), pid: pid, res: Result{PID: pid}}
	defer o.close()
	if r := o.locate(oldPath); r != nil {
		return *r
	}
	gi := o.j.top(o.oldImg.buildID)
	if gi < 0 {
		if sym, modified := o.entriesModified(); modified {
			return o.finish(StatusError, "the entry of %s is modified in the process but no upgrade is journaled in %s", sym, o.opt.StateDir)
		}
		return o.finish(StatusNotChanged, "no upgrade of OLD is applied")
	}
	g := o.j.Generations[gi]
	o.res.New = &g.New
	pt := startPtraceThread()
	defer pt.stop()
	var res Result
	err := pt.do(func() error {
		res = o.revertTraced(gi)
		return nil
	})
	if err != nil {
		return o.finish(StatusError, "%v", err)
	}
	return res
}

func (o *op) revertTraced(gi int) (res Result) {
	t, err := o.tracer()
	if err != nil {
		return o.fromErr("tracing", err)
	}
	defer t.detachAll()
	g := &o.j.Generations[gi]
	// Journaled before the stop of the world (an fsync is slow): an engine
	// dying from here on leaves "reverting", which status reports and the
	// next revert completes, word by word.
	prevState := g.State
	g.State = genReverting
	if err := o.j.save(); err != nil {
		return o.finish(StatusError, "%v", err)
	}
	undo := func() error { // the revert did not start after all
		g.State = prevState
		return o.j.save()
	}
	if err := t.stopAll(t.stopDeadline()); err != nil {
		undo()
		if t.alive() {
			t.stopAll(t.stopDeadline())
		}
		return o.fromErr("stopping the process", err)
	}
	start := time.Now()
	defer func() {
		if res.StoppedMicros == 0 {
			res.StoppedMicros = time.Since(start).Microseconds()
		}
	}()
	inTramp := func(a uint64) bool {
		for _, p := range g.Trampolines {
			if a >= p && a < p+pageSize {
				return true
			}
		}
		return false
	}
	// A thread about to execute a trampoline's jmp is moved on to its
	// destination, as the jmp would: no single-step, whose trap flag would
	// outlive an engine that dies and kill the thread.
	keepPages := false
	for _, th := range t.threads {
		cached, err := t.regsOf(th)
		if err != nil {
			return o.fromErr("reading registers", err)
		}
		r := *cached
		moved := false
		for _, q := range g.Pads {
			if r.Rip != q {
				continue
			}
			// At a padding jump (see pad.go): take it.
			var jmp [jmpLen]byte
			if err := t.read(q, jmp[:]); err != nil {
				return o.fromErr("reading a padding jump", err)
			}
			if jmp[0] == 0xe9 {
				r.Rip = uint64(int64(q+jmpLen) + int64(int32(binary.LittleEndian.Uint32(jmp[1:]))))
				moved = true
			}
		}
		if !inTramp(r.Rip) {
			if moved {
				th.regs = nil
				if err := unix.PtraceSetRegs(th.tid, &r); err != nil {
					return o.fromErr("moving a thread out of a padding jump", t.goneOr(err))
				}
			}
			continue
		}
		var slot [slotSize]byte
		if err := t.read(r.Rip, slot[:]); err != nil {
			return o.fromErr("reading a trampoline", err)
		}
		if !bytes.Equal(slot[:6], []byte{0xff, 0x25, 0, 0, 0, 0}) {
			keepPages = true // not at a slot's start: leave the pages mapped
			continue
		}
		r.Rip = binary.LittleEndian.Uint64(slot[6:])
		th.regs = nil
		if err := unix.PtraceSetRegs(th.tid, &r); err != nil {
			return o.fromErr("moving a thread out of a trampoline", t.goneOr(err))
		}
	}
	// Every word must hold what we wrote (or, after an interrupted
	// operation, what was there before).
	// Backwards: the entries' words before the padding they jump to.
	var todo []wordWrite
	cur, err := t.readWords(g.Writes)
	if err != nil {
		return o.fromErr("reading text", err)
	}
	for i := len(g.Writes) - 1; i >= 0; i-- {
		w := g.Writes[i]
		switch cur[i] {
		case w.New:
			todo = append(todo, w)
		case w.Old:
		default:
			t.detachAll()
			undo()
			return o.finish(StatusError, "text at %#x changed since the upgrade (%x): not reverting", w.Addr, cur[i][:])
		}
	}
	tid := anyStopped(t)
	for i, w := range todo {
		if err := pokeWord(tid, w.Addr, w.Old); err != nil {
			// Put back what was reverted so far: the upgrade stays whole.
			var rerr error
			for _, d := range todo[:i] {
				rerr = errors.Join(rerr, pokeWord(tid, d.Addr, d.New))
			}
			g.State = genApplied
			return o.fromErr("restoring text", errors.Join(t.goneOr(err), rerr, o.j.save()))
		}
	}
	if cur, err = t.readWords(g.Writes); err != nil {
		return o.fromErr("verifying restored text", err)
	}
	for i, w := range g.Writes {
		if cur[i] != w.Old {
			return o.fromErr("verifying restored text", fmt.Errorf("word at %#x: %x, want %x", w.Addr, cur[i][:], w.Old[:]))
		}
	}
	o.res.Functions = len(g.Functions)
	var pages []uint64 // unmapped once the process is released
	if !keepPages {
		pages = g.Trampolines
	}
	derr := t.detachAll()
	o.res.StoppedMicros = t.releasedAt.Sub(start).Microseconds()
	yieldCPU() // the threads released, late, run first (see Apply)
	// The journal once the process runs again (an fsync is slow): an
	// engine dying before this leaves the generation journaled as
	// reverting with every word restored, which the next revert completes
	// (status reports it). Then the pages: one left mapped by an engine
	// dying after the journal is only a leak.
	o.j.Generations = append(o.j.Generations[:gi], o.j.Generations[gi+1:]...)
	if err := o.j.save(); err != nil {
		return o.finish(StatusError, "reverted, but updating the journal failed: %v", err)
	}
	if derr != nil {
		return o.finish(StatusError, "reverted, but releasing the process failed: %v", derr)
	}
	if keepPages {
		o.res.Reason = "reverted; the trampolines stay: a thread was inside a trampoline"
	}
	if err := o.cleanUp(pages); err != nil {
		return o.finish(StatusOK, "reverted; %v", err)
	}
	return o.finish(StatusOK, "")
}

// cleanUp, the process released and reverted, unmaps the trampoline pages
// (no thread can reach them any more: the entries are restored and no
// thread was inside one) in a thread fit to make a system call, found as
// for dlopen while the process runs (see survey).
//
// NEW is never unloaded: after the revert, objects on the heap may still
// point into its data (a zlib stream created while NEW was in effect
// points at NEW's static tables, a C++ object at NEW's vtables) and OLD's
// code follows those pointers. The reference the upgrade took stays; a
// later apply of the same build finds NEW loaded and reuses it (dlopen
// returns the loaded object).
func (o *op) cleanUp(pages []uint64) error {
	if len(pages) == 0 {
		return nil
	}
	t, err := o.tracer()
	if err != nil {
		return err
	}
	defer t.release()
	t.background(true)
	th, _, err := t.pickHijack(o.c, loaded{}, o.opt.BusyTimeout)
	if err != nil {
		return fmt.Errorf("trampoline pages stay mapped: %w", err)
	}
	h, err := t.startHijack(th, o.c, o.opt.CallTimeout)
	if err != nil {
		return err
	}
	var perr error
	for _, p := range pages {
		if _, err := h.syscall(unix.SYS_MUNMAP, p, pageSize); err != nil && perr == nil {
			perr = fmt.Errorf("unmapping trampoline page %#x: %w", p, err)
		}
	}
	return errors.Join(perr, h.end())
}

// Query reports the upgrades journaled for process pid and whether the
// process memory still holds them. It does not stop the process.
func Query(pid int, opt Options) ProcessState {
	opt = opt.withDefaults()
	ps := ProcessState{PID: pid, Status: StatusOK, Applied: []Applied{}}
	start, err := processStartTime(pid)
	if err != nil {
		ps.Status, ps.Reason = StatusError, "no such process"
		return ps
	}
	j, err := loadJournal(opt.StateDir, pid, start)
	if err != nil {
		ps.Status, ps.Reason = StatusError, err.Error()
		return ps
	}
	for i, g := range j.Generations {
		ok, err := intactIn(pid, j.Generations, i)
		a := Applied{Old: g.Old, New: g.New, State: g.State, Functions: len(g.Functions), Time: g.Time, Intact: ok && err == nil,
			Draining: g.Draining, Undrained: g.Undrained, DrainChecked: g.DrainChecked}
		ps.Applied = append(ps.Applied, a)
		if !a.Intact || g.State != genApplied {
			ps.Status = StatusError
			ps.Reason = fmt.Sprintf("upgrade of %s is %s and %s", g.Old.Path, g.State, map[bool]string{true: "intact", false: "not intact in memory"}[a.Intact])
		}
	}
	if len(ps.Applied) == 0 {
		ps.Status, ps.Reason = StatusNotChanged, "no upgrade applied"
	}
	return ps
}

// entriesModified reports whether the first bytes of an exported function
// of OLD differ in the process from OLD's file (another state directory,
// another tool), naming the first such function.
func (o *op) entriesModified() (string, bool) {
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", liveTID(o.pid)))
	if err != nil {
		return "", false
	}
	defer mem.Close()
	for _, f := range o.oldImg.funcs {
		n := min(f.size, 16)
		want, got := make([]byte, n), make([]byte, n)
		if o.oldImg.readVA(want, f.value) != nil {
			continue
		}
		if _, err := mem.ReadAt(got, int64(o.old.bias+f.value)); err == nil && !bytes.Equal(want, got) {
			return f.key(), true
		}
	}
	return "", false
}
