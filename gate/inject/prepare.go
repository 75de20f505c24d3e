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

// prepared is an upgrade ready to be written: trampoline pages mapped and
// filled (nothing executes them yet) and the writes journaled as
// "applying".
type prepared struct {
	o      *op
	writes []wordWrite
	mapped []uint64 // trampoline pages
	gi     int      // index of the generation in the journal
	// torn is every byte of OLD's text that will hold a new instruction
	// but its first: no thread may execute or return there when the words
	// are written (the drain model, see Options.Drain).
	torn ranges
	// exits is every redirected entry and jump (see scanner.exits).
	exits map[uint64]bool
}

// undo unmaps the trampoline pages and drops the journal record; sys makes
// system calls in the process.
func (p *prepared) undo(sys func(uint64, ...uint64) (uint64, error)) error {
	var first error
	for _, a := range p.mapped {
		if _, err := sys(unix.SYS_MUNMAP, a, pageSize); err != nil && first == nil {
			first = err
		}
	}
	p.mapped = nil
	p.o.j.Generations = p.o.j.Generations[:p.gi]
	if err := p.o.j.save(); err != nil && first == nil {
		first = err
	}
	return first
}

// done records the generation as applied.
func (p *prepared) done() error {
	p.o.j.Generations[p.gi].State = genApplied
	return p.o.j.save()
}

// prepare plans the redirections, maps and fills the trampoline pages with
// sys, and journals the writes durably. The process may be running: OLD's
// words are read here and checked again by commit with the world stopped.
func (o *op) prepare(t *tracer, sys func(uint64, ...uint64) (uint64, error), sites []site, newBias, handle uint64) (*prepared, error) {
	maps, err := readMaps(o.pid)
	if err != nil {
		return nil, t.goneOr(err)
	}
	// What each word must hold now: OLD's file bytes, or the words of the
	// upgrade being stacked upon.
	expect := map[uint64]hexWord{}
	if i := o.j.top(o.oldImg.buildID); i >= 0 {
		for _, w := range o.j.Generations[i].Writes {
			expect[w.Addr] = w.New
		}
	}
	pl := newTrampPlanner(maps)
	words := map[uint64]*wordWrite{}
	word := func(a uint64) (*wordWrite, error) {
		if w, ok := words[a]; ok {
			return w, nil
		}
		w := &wordWrite{Addr: a}
		if err := t.read(a, w.Old[:]); err != nil {
			return nil, err
		}
		want, ok := expect[a]
		if !ok {
			if err := o.oldImg.readVA(want[:], a-o.old.bias); err != nil {
				return nil, err
			}
		}
		if w.Old != want {
			return nil, fmt.Errorf("OLD's code at %#x was modified by someone else (%x, expected %x)", a, w.Old[:], want[:])
		}
		w.New = w.Old
		words[a] = w
		return w, nil
	}
	ibt := userIBT(o.pid)
	var overEndbr []string
	var (
		pads       []uint64    // padding jumps
		padUsed    []addrRange // their bytes
		entryWords = map[uint64]bool{}
		torn       []addrRange // bytes inside the new instructions
		viaGOT     []site      // redirected through the importers' GOTs
	)
	for _, s := range sites {
		if s.viaGOT {
			viaGOT = append(viaGOT, s)
			continue
		}
		p := o.old.bias + s.at
		lo, hi := slotWindow(p, s.orig)
		tr, err := pl.alloc(lo, hi, newBias+s.dest)
		if err != nil && s.overEndbr && !ibt {
			// The window that keeping endbr64 requires is occupied
			// (typically by thread stacks). Without user-space IBT,
			// endbr64 is a NOP: write the jump at the entry instead,
			// which fits in one word and may reach any slot in ±2 GiB.
			p = o.old.bias + s.entry
			var orig [8]byte
			lo, hi = slotWindow(p, orig)
			tr, err = pl.alloc(lo, hi, newBias+s.dest)
			overEndbr = append(overEndbr, s.names...)
		}
		if err != nil && s.at == s.entry && p%8 > 8-jmpLen {
			// No page fits the one-word window: through padding.
			err = o.viaPad(t, pl, s, p, newBias+s.dest, word, &pads, &padUsed, entryWords)
			if err == nil {
				torn = append(torn, addrRange{p + 1, p + 2})
				continue
			}
			if errors.Is(err, errCannotRedirect) {
				viaGOT = append(viaGOT, s)
				continue
			}
		}
		if err != nil {
			return nil, fmt.Errorf("placing the trampoline of %s: %w", s.names[0], err)
		}
		entryWords[p&^7] = true
		torn = append(torn, addrRange{p + 1, p + jmpLen})
		jmp := jmpBytes(p, tr)
		for i := uint64(0); i < jmpLen; i++ {
			w, err := word((p + i) &^ 7)
			if err != nil {
				return nil, err
			}
			if w.New[(p+i)%8] != jmp[i] {
				if (p+i)&^7 != p&^7 {
					return nil, fmt.Errorf("internal error: the jump of %s would need a second word", s.names[0])
				}
			}
			w.New[(p+i)%8] = jmp[i]
		}
		w := words[p&^7]
		w.Symbols = append(w.Symbols, s.names...)
	}
	slots, err := o.gotSlots(maps, viaGOT, newBias, expect)
	if err != nil {
		return nil, err
	}
	prep := &prepared{o: o, gi: len(o.j.Generations), exits: map[uint64]bool{}}
	for _, s := range sites {
		if !s.viaGOT {
			prep.exits[o.old.bias+s.entry] = true
			prep.exits[o.old.bias+s.at] = true
		}
	}
	prep.torn = newRanges(append(torn, padUsed...))
	for _, w := range words {
		if w.New != w.Old {
			w.Pad = !entryWords[w.Addr]
			prep.writes = append(prep.writes, *w)
		}
	}
	for _, sl := range slots {
		w := wordWrite{Addr: sl.addr, Symbols: []string{sl.name}, GOT: true}
		binary.LittleEndian.PutUint64(w.Old[:], sl.old)
		binary.LittleEndian.PutUint64(w.New[:], sl.new)
		prep.writes = append(prep.writes, w)
	}
	// Padding first (unreachable until an entry's word is written), then
	// the entries, each in address order. Revert goes backwards.
	sort.Slice(prep.writes, func(i, j int) bool {
		a, b := prep.writes[i], prep.writes[j]
		if a.Pad != b.Pad {
			return a.Pad
		}
		return a.Addr < b.Addr
	})
	gen := generation{
		State: genApplying, Time: time.Now().UTC(),
		Old: *o.res.Old, New: *o.res.New, NewHandle: handle,
		Writes: prep.writes, OverEndbr: overEndbr, Pads: pads,
	}
	for _, s := range sites {
		gen.Functions = append(gen.Functions, s.names...)
	}
	for _, s := range viaGOT {
		gen.ViaGOT = append(gen.ViaGOT, s.names...)
	}
	o.res.ViaGOT, o.res.GOTSlots = len(gen.ViaGOT), len(slots)
	for _, pg := range pl.pages {
		gen.Trampolines = append(gen.Trampolines, pg.addr)
	}
	// Map and fill the trampoline pages (nothing executes them yet).
	fail := func(err error) (*prepared, error) {
		for _, a := range prep.mapped {
			sys(unix.SYS_MUNMAP, a, pageSize)
		}
		return nil, err
	}
	for _, pg := range pl.pages {
		a, err := sys(unix.SYS_MMAP, pg.addr, pageSize, unix.PROT_READ|unix.PROT_EXEC,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uint64(0), 0)
		if err != nil {
			return fail(fmt.Errorf("mapping a trampoline page at %#x: %w", pg.addr, err))
		}
		prep.mapped = append(prep.mapped, a)
		if a != pg.addr {
			return fail(fmt.Errorf("mapping a trampoline page at %#x: kernel placed it at %#x", pg.addr, a))
		}
		if err := t.write(pg.addr, pg.bytes[:]); err != nil {
			return fail(err)
		}
	}
	// Journal first, durably; the words are written by commit.
	o.j.Generations = append(o.j.Generations, gen)
	if err := o.j.save(); err != nil {
		o.j.Generations = o.j.Generations[:prep.gi]
		return fail(err)
	}
	return prep, nil
}

// viaPad plans the redirection of site s, whose entry p takes fewer than 5
// bytes in its word, through padding (see pad.go): a jmp rel32 in padding
// to a trampoline slot jumping to dest, and a short jump at the entry. word
// returns the write of the word at an address; pads, used and entryWords
// collect the padding jumps, their bytes and the entries' words.
func (o *op) viaPad(t *tracer, pl *trampPlanner, s site, p, dest uint64, word func(uint64) (*wordWrite, error), pads *[]uint64, used *[]addrRange, entryWords map[uint64]bool) error {
	k := 8 - p%8
	if o.pads == nil {
		runs, err := padRuns(o.oldImg)
		if err != nil {
			return err
		}
		o.pads = append(runs, addrRange{}) // non-nil even when empty
	}
	bias := o.old.bias
	cur := func(a uint64, n int) ([]byte, error) {
		b := make([]byte, n)
		return b, t.read(a, b)
	}
	file := func(a uint64, n int) ([]byte, error) {
		b := make([]byte, n)
		return b, o.oldImg.readVA(b, a-bias)
	}
	pp, ok, err := planPad(p, bias, k, s.orig[1], o.pads, *used, cur, file)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("function %s: %w: its entry has %d of a jump's %d bytes in its aligned word, no trampoline page fits the window a one-word jump needs, and no free padding (int3 or nop between functions) lies within a short jump's reach", s.names[0], errCannotRedirect, k, jmpLen)
	}
	tr, err := pl.alloc(pp.at+jmpLen-1<<31, pp.at+jmpLen+1<<31, dest)
	if err != nil {
		return fmt.Errorf("placing the trampoline of %s: %w", s.names[0], err)
	}
	jmp := jmpBytes(pp.at, tr)
	for i := uint64(0); i < jmpLen; i++ {
		w, err := word((pp.at + i) &^ 7)
		if err != nil {
			return err
		}
		w.New[(pp.at+i)%8] = jmp[i]
	}
	w, err := word(p &^ 7)
	if err != nil {
		return err
	}
	w.New[p%8] = pp.entry[0]
	if k >= 2 {
		w.New[p%8+1] = pp.entry[1]
	}
	w.Symbols = append(w.Symbols, s.names...)
	entryWords[p&^7] = true
	*pads = append(*pads, pp.at)
	*used = append(*used, addrRange{pp.at, pp.at + jmpLen})
	return nil
}

// commit writes the prepared words, the world stopped and consistent: each
// word must still hold its old value; each is written with one
// PTRACE_POKEDATA and read back. On failure the words written are restored.
func (o *op) commit(t *tracer, p *prepared) error {
	cur, err := t.readWords(p.writes)
	if err != nil {
		return err
	}
	for i, w := range p.writes {
		if cur[i] != w.Old {
			return fmt.Errorf("OLD's code at %#x changed meanwhile (%x, expected %x)", w.Addr, cur[i][:], w.Old[:])
		}
	}
	tid := anyStopped(t)
	for i, w := range p.writes {
		if err := pokeWord(tid, w.Addr, w.New); err != nil {
			return errors.Join(t.goneOr(err), rollback(t, tid, p.writes[:i]))
		}
	}
	got, err := t.readWords(p.writes)
	if err != nil {
		return errors.Join(fmt.Errorf("verifying the words written failed"), err, rollback(t, tid, p.writes))
	}
	for i, w := range p.writes {
		if got[i] != w.New {
			return errors.Join(fmt.Errorf("verifying the word at %#x failed", w.Addr), rollback(t, tid, p.writes))
		}
	}
	return nil
}

func anyStopped(t *tracer) int {
	for tid, th := range t.threads {
		if th.stopped {
			return tid
		}
	}
	return t.pid
}

// rollback restores the old words of writes, from the journal record.
func rollback(t *tracer, tid int, writes []wordWrite) error {
	var first error
	for _, w := range writes {
		var cur hexWord
		if err := t.read(w.Addr, cur[:]); err == nil && cur == w.Old {
			continue
		}
		if err := pokeWord(tid, w.Addr, w.Old); err != nil && first == nil {
			first = fmt.Errorf("rolling back: %w", err)
		}
	}
	return first
}
