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
// pages are unmapped. NEW stays loaded (threads may still be running its
// code); the old library was never unmapped. It also completes a revert of
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
	t, err := newTracer(o.pid)
	if err != nil {
		return o.fromErr("tracing", err)
	}
	defer t.detachAll()
	if err := t.stopAll(time.Now().Add(stopTimeout)); err != nil {
		if t.alive() {
			t.stopAll(time.Now().Add(stopTimeout))
		}
		return o.fromErr("stopping the process", err)
	}
	start := time.Now()
	defer func() { res.StoppedMicros = time.Since(start).Microseconds() }()
	g := &o.j.Generations[gi]
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
		var r unix.PtraceRegs
		if err := unix.PtraceGetRegs(th.tid, &r); err != nil {
			return o.fromErr("reading registers", t.goneOr(err))
		}
		if !inTramp(r.Rip) {
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
		if err := unix.PtraceSetRegs(th.tid, &r); err != nil {
			return o.fromErr("moving a thread out of a trampoline", t.goneOr(err))
		}
	}
	// Every word must hold what we wrote (or, after an interrupted
	// operation, what was there before).
	var todo []wordWrite
	for _, w := range g.Writes {
		var cur hexWord
		if err := t.read(w.Addr, cur[:]); err != nil {
			return o.fromErr("reading text", err)
		}
		switch cur {
		case w.New:
			todo = append(todo, w)
		case w.Old:
		default:
			return o.finish(StatusError, "text at %#x changed since the upgrade (%x): not reverting", w.Addr, cur[:])
		}
	}
	g.State = genReverting
	if err := o.j.save(); err != nil {
		return o.finish(StatusError, "%v", err)
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
	for _, w := range g.Writes {
		var cur hexWord
		if err := t.read(w.Addr, cur[:]); err != nil || cur != w.Old {
			return o.fromErr("verifying restored text", fmt.Errorf("word at %#x: %x, want %x (%v)", w.Addr, cur[:], w.Old[:], err))
		}
	}
	if !keepPages && len(g.Trampolines) > 0 {
		err := t.withSyscalls(o.c, func(sys func(uint64, ...uint64) (uint64, error)) error {
			for _, p := range g.Trampolines {
				if _, err := sys(unix.SYS_MUNMAP, p, pageSize); err != nil {
					return fmt.Errorf("unmapping trampoline page %#x: %w", p, err)
				}
			}
			return nil
		})
		if err != nil {
			return o.fromErr("cleaning up", err)
		}
	}
	o.res.Functions = len(g.Functions)
	o.j.Generations = append(o.j.Generations[:gi], o.j.Generations[gi+1:]...)
	if err := o.j.save(); err != nil {
		return o.finish(StatusError, "reverted, but updating the journal failed: %v", err)
	}
	return o.finish(StatusOK, "")
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
		a := Applied{Old: g.Old, New: g.New, State: g.State, Functions: len(g.Functions), Time: g.Time, Intact: ok && err == nil}
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
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", o.pid))
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
