//go:build linux && amd64

package inject

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// op is one operation (apply or revert) on one process.
type op struct {
	ctx    context.Context
	opt    Options
	pid    int
	start  uint64
	oldImg *image
	newImg *image
	old    loaded
	c      libc
	j      *journal
	pads   []addrRange // OLD's padding, link-time; nil until needed
	unlock func()
	res    Result
}

func (o *op) finish(s Status, format string, args ...any) Result {
	o.res.Status = s
	if format != "" {
		o.res.Reason = fmt.Sprintf(format, args...)
	}
	return o.res
}

// fromErr turns an error into a status: not_loaded, or error with the
// process-exited case spelled out.
func (o *op) fromErr(what string, err error) Result {
	var nl errNotLoaded
	switch {
	case errors.As(err, &nl) && nl.other:
		// Not a success: the process runs the library, in a build the
		// operation was not meant for.
		return o.finish(StatusRefused, "%s", nl.reason)
	case errors.As(err, &nl):
		return o.finish(StatusNotLoaded, "%s", nl.reason)
	case errors.Is(err, errGone):
		return o.finish(StatusError, "%s: process exited during the operation", what)
	}
	return o.finish(StatusError, "%s: %v", what, err)
}

// locate opens OLD, checks the process and finds OLD in it.
func (o *op) locate(oldPath string) *Result {
	if abs, err := filepath.Abs(oldPath); err == nil {
		oldPath = abs
	}
	if err := canTrace(); err != nil {
		r := o.finish(StatusError, "%v", err)
		return &r
	}
	img, err := openImage(oldPath)
	if err != nil {
		r := o.finish(StatusError, "%v", err)
		return &r
	}
	o.oldImg = img
	o.res.Old = &Library{Path: oldPath, BuildID: img.buildID}
	if o.start, err = processStartTime(o.pid); err != nil {
		r := o.finish(StatusError, "no such process")
		return &r
	}
	maps, err := readMaps(o.pid)
	if err != nil {
		r := o.fromErr("reading the process's mappings", err)
		return &r
	}
	if o.old, err = findLoaded(o.pid, maps, img); err != nil {
		r := o.fromErr("identifying OLD", err)
		return &r
	}
	o.res.Old.Base = o.old.bias
	if o.c, err = findLibc(o.pid, maps); err != nil {
		r := o.fromErr("inspecting the process's C library", err)
		return &r
	}
	unlock, err := lockProcess(o.opt.StateDir, o.pid)
	if err != nil {
		r := o.finish(StatusError, "%v", err)
		return &r
	}
	o.unlock = unlock
	if tracer, comm := otherTracer(o.pid); tracer > 0 {
		r := o.finish(StatusBusy, "another tracer holds the process (process %d, %s): try again once it detaches", tracer, comm)
		return &r
	}
	cleanStateDir(o.opt.StateDir)
	if o.j, err = loadJournal(o.opt.StateDir, o.pid, o.start); err != nil {
		r := o.finish(StatusError, "%v", err)
		return &r
	}
	return nil
}

func (o *op) close() {
	if o.unlock != nil {
		o.unlock()
	}
	o.oldImg.close()
	o.newImg.close()
}

// Apply hot-upgrades process pid from the library OLD (oldPath) to NEW
// (newPath): every exported function of OLD is redirected to NEW's function
// of the same name, which is loaded into the process with dlopen. The
// process is left exactly as it was unless the status is ok.
func Apply(ctx context.Context, pid int, oldPath, newPath string, opt Options) Result {
	o := &op{ctx: ctx, opt: opt.withDefaults(), pid: pid, res: Result{PID: pid}}
	defer o.close()
	newAbs, err := filepath.Abs(newPath)
	if err != nil {
		return o.finish(StatusError, "%v", err)
	}
	if o.newImg, err = openImage(newAbs); err != nil {
		return o.finish(StatusError, "%v", err)
	}
	o.res.New = &Library{Path: newAbs, BuildID: o.newImg.buildID}
	if r := o.locate(oldPath); r != nil {
		return *r
	}
	if o.newImg.buildID != "" && o.newImg.buildID == o.oldImg.buildID {
		return o.finish(StatusNotChanged, "NEW is the same build as OLD")
	}
	if err := refuseData(o.oldImg, o.newImg); err != nil {
		return o.finish(StatusRefused, "%v", err)
	}
	var only map[string]bool
	pi, err := patchInfoOf(o.newImg.file, newAbs)
	if err != nil {
		return o.finish(StatusRefused, "%v", err)
	}
	if pi != nil {
		if pi.TargetBuildID != o.oldImg.buildID {
			return o.finish(StatusRefused, "the patch %s is for the build %s, OLD is the build %s", pi.Version, pi.TargetBuildID, orNone(o.oldImg.buildID))
		}
		o.res.New.Patch = pi.Version
		only = map[string]bool{}
		for _, f := range pi.Functions {
			only[f] = true
		}
	}
	sites, err := planSites(o.oldImg, o.newImg, only)
	if err != nil {
		return o.finish(StatusRefused, "%v", err)
	}
	if i := o.j.top(o.oldImg.buildID); i >= 0 {
		g := o.j.Generations[i]
		if g.State != genApplied {
			return o.finish(StatusError, "an interrupted operation (%s) is journaled in %s: run revert first", g.State, o.j.path)
		}
		if g.New.BuildID == o.newImg.buildID && o.newImg.buildID != "" {
			if ok, err := intact(o.pid, g); err != nil || !ok {
				return o.finish(StatusError, "the journaled upgrade to NEW is no longer intact in memory")
			}
			o.res.New.Base = g.New.Base
			return o.finish(StatusNotChanged, "NEW is already applied")
		}
	}
	if err := ctx.Err(); err != nil {
		return o.finish(StatusError, "%v", err)
	}
	pt := startPtraceThread()
	defer pt.stop()
	var res Result
	err = pt.do(func() error {
		res = o.applyTraced(sites, newAbs)
		return nil
	})
	if err != nil {
		return o.finish(StatusError, "%v", err)
	}
	return res
}

// applyTraced is the traced part of Apply; it runs on the ptrace thread.
//
// The world is stopped once, for the switch only. First, while the process
// runs, one thread fit to run dlopen is found and stopped alone (see
// pickHijack); NEW is loaded in it, checked, and the writes are prepared
// and journaled, the other threads running all along. Then every thread is
// stopped with a single round of interrupts, the threads are checked for
// OLD code on their stacks, the words are written, and the process is
// released at once.
func (o *op) applyTraced(sites []site, newPath string) (res Result) {
	t, err := newTracer(o.pid)
	if err != nil {
		return o.fromErr("tracing", err)
	}
	t.background(true) // until the stop of the world (see stopAll)
	var (
		handle uint64    // NEW's dlopen handle while it must be unloaded on failure
		hth    *thread   // the thread that ran dlopen, kept stopped
		prep   *prepared // trampolines and journal record while they must be undone
	)
	defer func() {
		if (handle != 0 || prep != nil) && hth != nil && t.threads[hth.tid] != nil && t.alive() {
			// Leave the process as it was: drop the trampolines, the
			// journal record and our reference to NEW.
			if uerr := t.unload(hth, o.c, o.opt.CallTimeout, prep, handle); uerr != nil && res.Status != StatusError {
				res.Status = StatusError
				res.Reason += fmt.Sprintf(" (and unloading NEW failed: %v)", uerr)
			}
		}
		t.release()
		res.hijacked = t.hijacked
	}()
	watch := o.old // threads with OLD code on their stacks make apply wait
	if o.opt.Drain {
		watch = loaded{} // they drain after the switch
	}
	th, busy, err := t.pickHijack(o.c, watch, o.opt.BusyTimeout)
	switch {
	case errors.Is(err, errNoHijack):
		return o.finish(StatusBusy, "%v", err)
	case err != nil:
		return o.fromErr("choosing a thread", err)
	case busy != "":
		return o.finish(StatusBusy, "%s", busy)
	}
	hth = th
	t.hijacked = append(t.hijacked, th.tid)
	dlopenPath := newPath
	if maps, err := readMaps(o.pid); err == nil {
		for _, m := range maps {
			if m.path != newPath {
				continue
			}
			// glibc matches dlopen names against loaded objects by
			// name first: a different build loaded from NEW's path
			// (replaced in place) would be returned instead. A
			// different spelling of the same file avoids that (through
			// the calling thread: /proc/self/root of a process whose
			// main thread has exited cannot be opened). NEW itself,
			// loaded by an earlier apply, is reused.
			if id, err := mappedBuildID(o.pid, m); err != nil || id != o.newImg.buildID || id == "" {
				dlopenPath = "/proc/thread-self/root" + newPath
			}
			break
		}
	}
	// While the hijacked thread loads NEW and the other threads run, NEW is
	// checked and the writes are prepared and journaled.
	var (
		dlerr           string
		refused, failed error
	)
	err = func() error {
		h, err := t.startHijack(th, o.c, o.opt.CallTimeout)
		if err != nil {
			return err
		}
		return errors.Join(o.load(t, h, sites, dlopenPath, &handle, &dlerr, &refused, &failed, &prep), h.end())
	}()
	if err != nil {
		return o.fromErr("loading NEW", err)
	}
	switch {
	case handle == 0:
		return o.finish(StatusError, "dlopen(NEW) failed in the process: %s", dlerr)
	case failed != nil:
		return o.finish(StatusError, "%v", failed)
	case refused != nil:
		return o.finish(StatusRefused, "%v", refused)
	}
	if err := o.ctx.Err(); err != nil {
		return o.finish(StatusError, "%v", err)
	}
	// The switch: the only time the world is stopped.
	t.reader = newStackReader(t.memTID, t.prepareScanBuf())
	defer t.reader.close()
	stopped := time.Now()
	if err := t.stopAll(time.Now().Add(o.opt.StopTimeout)); err != nil {
		return o.fromErr("stopping the process", err)
	}
	defer func() {
		if res.StoppedMicros == 0 {
			res.StoppedMicros = time.Since(stopped).Microseconds()
		}
	}()
	stopped = t.stopStart
	var torn *ranges
	if o.opt.Drain {
		torn = &prep.torn
	}
	reason, draining, err := t.settle(o.old, torn, prep.exits, time.Now().Add(o.opt.BusyTimeout), t.preMaps, t.preStopped)
	if err != nil {
		return o.fromErr("checking threads", err)
	} else if reason != "" {
		return o.finish(StatusBusy, "%s", reason)
	}
	if err := o.commit(t, prep); err != nil {
		return o.fromErr("redirecting OLD to NEW", err)
	}
	// Release the process first, then record the upgrade as complete: an
	// engine dying in between leaves it journaled as "applying", which
	// status reports and revert completes.
	derr := t.detachAll()
	o.res.StoppedMicros = time.Since(stopped).Microseconds()
	// The threads released all at once, late, run before the engine
	// records the upgrade.
	yieldCPU()
	handle = 0 // applied: NEW stays
	p := prep
	prep = nil
	o.res.Functions = len(sites)
	if derr != nil {
		return o.finish(StatusError, "applied, but releasing the process failed: %v", derr)
	}
	if err := p.done(); err != nil {
		return o.finish(StatusError, "applied, but recording it failed (revert completes it): %v", err)
	}
	if len(draining) > 0 {
		o.res.Draining = len(draining)
		if err := o.confirmDrain(p.gi, p.exits, draining); err != nil {
			return o.finish(StatusOK, "applied; confirming the drain failed: %v", err)
		}
	}
	return o.finish(StatusOK, "")
}

// load runs dlopen(NEW) in hijacked thread h, checks what it loaded and
// prepares the writes (see prepare); the process runs meanwhile.
func (o *op) load(t *tracer, h *hijack, sites []site, dlopenPath string, handle *uint64, dlerr *string, refused, failed *error, prep **prepared) error {
	v, err := h.call(o.c.dlopen, dlopenPath, rtldNow|rtldLocal|o.c.mode)
	if err != nil {
		return fmt.Errorf("calling dlopen: %w", err)
	}
	*handle = v
	if h.late != 0 {
		// Returned after the watchdog: give up, unloading NEW (see unload).
		return fmt.Errorf("dlopen(NEW) did not return within %v (it took %v more: slow constructors?); NEW is unloaded again", h.timeout, h.late.Round(time.Millisecond))
	}
	if v == 0 {
		if o.c.dlerror != 0 {
			if msg, err := h.call(o.c.dlerror, ""); err == nil && msg != 0 {
				*dlerr = t.readCString(msg, 1024)
			}
		}
		return nil
	}
	newBias, err := t.readWord(v) // struct link_map starts with l_addr
	if err != nil {
		return fmt.Errorf("reading NEW's link map: %w", err)
	}
	o.res.New.Base = newBias
	if *failed = o.checkNewMapped(newBias); *failed != nil {
		return nil
	}
	if *refused = o.checkInterposition(t, newBias); *refused != nil {
		return nil
	}
	*prep, err = o.prepare(t, h.syscall, sites, newBias, v)
	if errors.Is(err, errCannotRedirect) {
		*refused = err
		return nil
	}
	return err
}

// unload undoes a load that is not to be applied, in th, the thread that
// ran dlopen (it did not hold the loader's lock then and has not run its own
// code since): every other thread is released first, so that none holding
// the loader's lock is left stopped; then the trampoline pages are unmapped,
// the journal record dropped and NEW dlclose'd.
func (t *tracer) unload(th *thread, c libc, timeout time.Duration, prep *prepared, handle uint64) error {
	if err := t.detachOthers(th, time.Now().Add(stopTimeout)); err != nil {
		return err
	}
	h, err := t.startHijack(th, c, timeout)
	if err != nil {
		return err
	}
	var uerr, cerr error
	if prep != nil {
		uerr = prep.undo(h.syscall)
	}
	if handle != 0 && c.dlclose != 0 {
		_, cerr = h.call(c.dlclose, "", handle)
	}
	return errors.Join(uerr, cerr, h.end())
}

// checkNewMapped verifies that dlopen mapped NEW itself at newBias, not
// returned some already loaded object (OLD, by name or by file identity).
func (o *op) checkNewMapped(newBias uint64) error {
	if newBias == o.old.bias {
		return errors.New("dlopen returned OLD itself: NEW is the same file as OLD")
	}
	maps, err := readMaps(o.pid)
	if err != nil {
		return err
	}
	m, ok := findMapping(maps, newBias+o.newImg.loads[0].Vaddr)
	if !ok {
		return fmt.Errorf("NEW is not mapped at its load address %#x", newBias)
	}
	if o.newImg.buildID != "" {
		id, err := mappedBuildID(o.pid, m)
		if err != nil {
			return err
		}
		if id != o.newImg.buildID {
			return fmt.Errorf("dlopen(NEW) returned an object with build-id %s, not NEW's %s", orNone(id), o.newImg.buildID)
		}
	}
	return nil
}

// checkInterposition proves, in the process, that every exported variable
// NEW's code reaches through a dynamic relocation resolved to the storage
// OLD's code uses (OLD's own GOT entry, or OLD's definition). It fails when
// OLD is not in the global scope (loaded RTLD_LOCAL) so NEW would run on
// its own fresh copy.
func (o *op) checkInterposition(t *tracer, newBias uint64) error {
	newRel, err := o.newImg.relocs()
	if err != nil {
		return err
	}
	oldRel, err := o.oldImg.relocs()
	if err != nil {
		return err
	}
	for _, obj := range o.newImg.objects {
		oldSym, _ := lookup(o.oldImg.objects, obj.key())
		want := o.old.bias + oldSym.value
		for _, r := range oldRel {
			if r.sym == oldSym.index && r.typ == 6 /* GLOB_DAT */ {
				if want, err = t.readWord(o.old.bias + r.off); err != nil {
					return err
				}
				break
			}
		}
		for _, r := range newRel {
			if r.sym != obj.index || (r.typ != 6 && r.typ != 1 /* R_X86_64_64 */) {
				continue
			}
			got, err := t.readWord(newBias + r.off)
			if err != nil {
				return err
			}
			if got-uint64(r.addend) != want {
				return fmt.Errorf("exported variable %s would not be shared: NEW binds it to %#x, OLD uses %#x (is OLD loaded RTLD_LOCAL?)", obj.key(), got-uint64(r.addend), want)
			}
		}
	}
	return nil
}

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
	for _, w := range p.writes {
		var cur hexWord
		if err := t.read(w.Addr, cur[:]); err != nil {
			return err
		}
		if cur != w.Old {
			return fmt.Errorf("OLD's code at %#x changed meanwhile (%x, expected %x)", w.Addr, cur[:], w.Old[:])
		}
	}
	tid := anyStopped(t)
	for i, w := range p.writes {
		if err := pokeWord(tid, w.Addr, w.New); err != nil {
			return errors.Join(t.goneOr(err), rollback(t, tid, p.writes[:i]))
		}
	}
	for _, w := range p.writes {
		var got hexWord
		if err := t.read(w.Addr, got[:]); err != nil || got != w.New {
			return errors.Join(fmt.Errorf("verifying the word at %#x failed", w.Addr), err, rollback(t, tid, p.writes))
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

// intactIn reports whether generation i of gens is in effect: each of its
// words is in memory, or was overwritten by a later generation that
// recorded it as its old word (a stacked upgrade).
func intactIn(pid int, gens []generation, i int) (bool, error) {
	g := gens[i]
	g.Writes = nil
	for _, w := range gens[i].Writes {
		superseded := false
		for _, later := range gens[i+1:] {
			for _, lw := range later.Writes {
				if lw.Addr == w.Addr {
					if lw.Old != w.New {
						return false, nil
					}
					superseded = true
				}
			}
		}
		if !superseded {
			g.Writes = append(g.Writes, w)
		}
	}
	return intact(pid, g)
}

// intact reports whether the process memory holds every new word of g.
func intact(pid int, g generation) (bool, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", liveTID(pid)))
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, w := range g.Writes {
		var cur hexWord
		if _, err := f.ReadAt(cur[:], int64(w.Addr)); err != nil {
			return false, err
		}
		if !bytes.Equal(cur[:], w.New[:]) {
			return false, nil
		}
	}
	return true, nil
}

// userIBT reports whether user-space indirect branch tracking is enabled in
// the process (then every indirect branch target needs its endbr64).
func userIBT(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true // unknown: assume the strict case
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "x86_Thread_features:"); ok {
			return strings.Contains(v, "ibt")
		}
	}
	return false
}
