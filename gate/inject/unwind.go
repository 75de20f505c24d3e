//go:build linux && amd64

package inject

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/go-delve/delve/pkg/dwarf/frame"
	"golang.org/x/sys/unix"
)

// This file walks a thread's frames by the call frame information of the
// objects it runs (their .eh_frame), as debuggers and C++ exceptions do.
//
// The stack check (settle.go) takes every word of a stack that points
// right after a call into OLD for a frame of OLD: it cannot miss one, but
// it also finds the return addresses that calls into OLD left in stack
// memory they no longer use, which a later frame may hold unwritten (a
// buffer, padding) for as long as it lives: a thread blocked with such a
// frame on its stack seems never to leave OLD. Watching the drain, the
// process running, there is time to do better: a thread the scan finds
// inside OLD is walked frame by frame, and is out of OLD when the walk
// reaches its outermost frame (the thread's start, whose return address
// the CFI leaves undefined) without a frame in OLD. A walk that cannot go
// on (a frame without CFI, as JIT code; a rule it does not follow, as the
// signal trampoline's expression; memory it cannot read) proves nothing,
// and the scan's answer stands.

// x86-64 DWARF register numbers (System V psABI, figure 3.36).
const (
	dwRBX = 3
	dwRBP = 6
	dwRSP = 7
	dwR12 = 12
	dwR13 = 13
	dwR14 = 14
	dwR15 = 15
)

// maxFrames bounds a walk: a deeper stack is taken as a walk that failed.
const maxFrames = 1024

// cfiObject is the call frame information of one mapped object, at its
// run-time addresses.
type cfiObject struct {
	fdes frame.FrameDescriptionEntries
	err  error // why the object has none usable
}

// unwinder walks the stacks of threads of one process by the CFI of the
// objects it maps, read once each.
type unwinder struct {
	pid  int
	maps []mapping
	objs map[mapping]*cfiObject // by the executable mapping of the object
	read func(addr uint64, buf []byte) error
}

// newUnwinder returns an unwinder for process pid, whose mappings are maps,
// reading its memory with read.
func newUnwinder(pid int, maps []mapping, read func(addr uint64, buf []byte) error) *unwinder {
	return &unwinder{pid: pid, maps: maps, objs: make(map[mapping]*cfiObject), read: read}
}

// object returns the CFI of the object mapped executable at m.
func (u *unwinder) object(m mapping) *cfiObject {
	if o, ok := u.objs[m]; ok {
		return o
	}
	o := &cfiObject{}
	o.fdes, o.err = loadCFI(m.mapFile(u.pid), m)
	u.objs[m] = o
	return o
}

// loadCFI reads the .eh_frame of the ELF file at path, mapped executable
// at m, at run-time addresses.
func loadCFI(path string, m mapping) (fdes frame.FrameDescriptionEntries, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("reading ELF %s: %w", m.path, err)
	}
	bias, ok := loadBias(ef, m)
	if !ok {
		return nil, fmt.Errorf("%s: no loadable segment holds offset %#x", m.path, m.offset)
	}
	sec := ef.Section(".eh_frame")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("%s has no .eh_frame", m.path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .eh_frame of %s: %w", m.path, err)
	}
	// The parser panics on some malformed input.
	defer func() {
		if v := recover(); v != nil {
			fdes, err = nil, fmt.Errorf("malformed .eh_frame in %s: %v", m.path, v)
		}
	}()
	fdes, err = frame.Parse(data, binary.LittleEndian, bias, 8, sec.Addr)
	if err != nil {
		return nil, fmt.Errorf("reading .eh_frame of %s: %w", m.path, err)
	}
	// Sorted by address, for FDEForPC.
	return frame.FrameDescriptionEntries(nil).Append(fdes), nil
}

// loadBias returns how far ef, mapped at m, lies from its link-time
// addresses.
func loadBias(ef *elf.File, m mapping) (uint64, bool) {
	loads, _ := segments(ef)
	for _, p := range loads {
		if p.Off&^(pageSize-1) <= m.offset && m.offset < p.Off+p.Filesz {
			return m.start - (p.Vaddr + m.offset - p.Off), true
		}
	}
	return 0, false
}

// frameRegs are the registers a walk follows: the stack pointer, and the
// callee-saved ones a frame's CFA may be computed from, each with whether
// its value is known.
type frameRegs struct {
	val   [dwR15 + 1]uint64
	known [dwR15 + 1]bool
}

// set records register r's value.
func (fr *frameRegs) set(r int, v uint64) { fr.val[r], fr.known[r] = v, true }

// calleeSaved reports whether the System V ABI has a function preserve
// register r for its caller.
func calleeSaved(r int) bool { return r == dwRBX || r == dwRBP || (r >= dwR12 && r <= dwR15) }

// regsFromPtrace returns the registers of a stopped thread.
func regsFromPtrace(r *unix.PtraceRegs) frameRegs {
	var fr frameRegs
	fr.set(dwRBX, r.Rbx)
	fr.set(dwRBP, r.Rbp)
	fr.set(dwRSP, r.Rsp)
	fr.set(dwR12, r.R12)
	fr.set(dwR13, r.R13)
	fr.set(dwR14, r.R14)
	fr.set(dwR15, r.R15)
	return fr
}

// errWalk is the error of a walk that cannot reach the outermost frame.
var errWalk = errors.New("the walk cannot go on")

// returnAddresses walks the frames of a thread at pc with registers regs
// and returns the return address of each frame, innermost first, down to
// the outermost frame. It fails when the walk does not reach one.
func (u *unwinder) returnAddresses(pc uint64, regs frameRegs) ([]uint64, error) {
	var out []uint64
	for depth := 0; depth < maxFrames; depth++ {
		// A return address is the instruction after a call: its frame is
		// the call's, found one byte before.
		at := pc
		if depth > 0 {
			at--
		}
		m, ok := findSortedMapping(u.maps, at)
		if !ok || !m.exec() || m.path == "" {
			return nil, fmt.Errorf("%w: %#x is in no mapped file's code", errWalk, at)
		}
		o := u.object(m)
		if o.err != nil {
			return nil, fmt.Errorf("%w: %v", errWalk, o.err)
		}
		fde, err := o.fdes.FDEForPC(at)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errWalk, err)
		}
		ra, next, done, err := u.step(fde, at, &regs)
		if err != nil {
			return nil, err
		}
		if done || ra == 0 {
			// The outermost frame: its CFI leaves the return address
			// undefined, or it returns nowhere.
			return out, nil
		}
		out = append(out, ra)
		pc, regs = ra, next
	}
	return nil, fmt.Errorf("%w: more than %d frames", errWalk, maxFrames)
}

// step computes the caller's frame of the frame at pc described by fde,
// with registers regs: its return address and its registers; done when
// the frame is the outermost one.
func (u *unwinder) step(fde *frame.FrameDescriptionEntry, pc uint64, regs *frameRegs) (ra uint64, next frameRegs, done bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: malformed CFI at %#x: %v", errWalk, pc, v)
		}
	}()
	ctx, err := fde.EstablishFrame(pc)
	if err != nil {
		return 0, next, false, fmt.Errorf("%w: %v", errWalk, err)
	}
	if r, ok := ctx.Regs[ctx.RetAddrReg]; ok && r.Rule == frame.RuleUndefined {
		return 0, next, true, nil
	}
	c := ctx.CFA
	if c.Rule != frame.RuleCFA || c.Reg > dwR15 || !regs.known[c.Reg] {
		return 0, next, false, fmt.Errorf("%w: the CFA at %#x follows no register known", errWalk, pc)
	}
	cfa := regs.val[c.Reg] + uint64(c.Offset)
	if cfa <= regs.val[dwRSP] && regs.known[dwRSP] {
		return 0, next, false, fmt.Errorf("%w: the CFA at %#x does not move up the stack", errWalk, pc)
	}
	word := func(off int64) (uint64, error) {
		var b [8]byte
		if err := u.read(cfa+uint64(off), b[:]); err != nil {
			return 0, fmt.Errorf("%w: reading the stack: %v", errWalk, err)
		}
		return binary.LittleEndian.Uint64(b[:]), nil
	}
	r, ok := ctx.Regs[ctx.RetAddrReg]
	if !ok || r.Rule != frame.RuleOffset {
		return 0, next, false, fmt.Errorf("%w: the return address at %#x follows no rule known", errWalk, pc)
	}
	if ra, err = word(r.Offset); err != nil {
		return 0, next, false, err
	}
	// The caller's registers: callee-saved ones as the frame saved them,
	// or unchanged; the others unknown.
	for reg := range regs.val {
		if !calleeSaved(reg) {
			continue
		}
		rule, ok := ctx.Regs[uint64(reg)]
		switch {
		case !ok || rule.Rule == frame.RuleSameVal:
			next.val[reg], next.known[reg] = regs.val[reg], regs.known[reg]
		case rule.Rule == frame.RuleOffset:
			v, err := word(rule.Offset)
			if err != nil {
				return 0, next, false, err
			}
			next.set(reg, v)
		}
	}
	next.set(dwRSP, cfa)
	return ra, next, false, nil
}
