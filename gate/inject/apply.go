//go:build linux && amd64

package inject

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
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

// tracer starts tracing the operation's process; its waits for threads
// to stop are bounded by Options.StopTimeout.
func (o *op) tracer() (*tracer, error) {
	t, err := newTracer(o.pid)
	if err != nil {
		return nil, err
	}
	t.stopTimeout = o.opt.StopTimeout
	return t, nil
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
	t, err := o.tracer()
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
	var torn *ranges
	if o.opt.Drain {
		torn = &prep.torn
	}
	reason, draining, err := t.settle(hth, o.old, torn, prep.exits, time.Now().Add(o.opt.BusyTimeout))
	if err != nil {
		return o.fromErr("stopping the process and checking its threads", err)
	} else if reason != "" {
		return o.finish(StatusBusy, "%s", reason)
	}
	stopped := t.stopStart // of the last stop of the world
	defer func() {
		if res.StoppedMicros == 0 {
			res.StoppedMicros = time.Since(stopped).Microseconds()
		}
	}()
	if err := o.commit(t, prep); err != nil {
		return o.fromErr("redirecting OLD to NEW", err)
	}
	// Release the process first, then record the upgrade as complete: an
	// engine dying in between leaves it journaled as "applying", which
	// status reports and revert completes.
	derr := t.detachAll()
	o.res.StoppedMicros = t.releasedAt.Sub(stopped).Microseconds()
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
	if err := t.detachOthers(th, t.stopDeadline()); err != nil {
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
