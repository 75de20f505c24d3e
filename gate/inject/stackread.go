//go:build linux && amd64

package inject

import (
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// stackReader reads the threads' live stacks with process_vm_readv, with
// the world stopped, on two CPUs: the ptrace thread reads one half while a
// helper goroutine reads the other (process_vm_readv, unlike ptrace, may
// be called from any thread). Most of the cost of such a read (three to
// four times that of reading the same ranges again right after) goes to
// the first access to each page since the threads stopped, not to the
// copy, and two CPUs share it: the stacks take about half as long.
//
// Waking a goroutine takes the Go runtime and the kernel 20–150 µs, as
// long as the read itself; the helper is therefore woken as soon as every
// thread has been interrupted (see start), while the engine still waits for
// the last stops, and it then spins, yielding its CPU to any thread of the
// process that is on its way to its stop, until it is handed its half. It
// never reads before every thread is stopped: it is handed the ranges only
// then (see read).
type stackReader struct {
	pid  int
	wake chan struct{}
	job  atomic.Pointer[readJob]
	// cancel ends the helper's current spin without a job (the stop
	// failed, or the scan needed no help).
	cancel atomic.Bool
}

// readJob is ranges to read, in batches of at most IOV_MAX (1024), taken
// by whichever of the helper and the ptrace thread claims it first.
type readJob struct {
	batches []readBatch
	// lo and hi are the indices of the job's ranges among all the ranges
	// read, passed to after once every byte of them was read.
	lo, hi  int
	after   func(lo, hi int)
	claimed atomic.Bool
	done    atomic.Bool // set once the job was run
}

// readBatch is one process_vm_readv call.
type readBatch struct {
	local  []unix.Iovec
	remote []unix.RemoteIovec
	want   int
	ok     bool // every byte was read
}

// newReadJob returns the job reading ranges lo to hi of remote into the
// same of local (pairwise), then calling after, if not nil.
func newReadJob(local []unix.Iovec, remote []unix.RemoteIovec, lo, hi int, after func(lo, hi int)) *readJob {
	j := &readJob{lo: lo, hi: hi, after: after}
	local, remote = local[lo:hi], remote[lo:hi]
	for lo := 0; lo < len(local); lo += 1024 {
		hi := min(lo+1024, len(local))
		b := readBatch{local: local[lo:hi], remote: remote[lo:hi]}
		for _, v := range b.remote {
			b.want += v.Len
		}
		j.batches = append(j.batches, b)
	}
	return j
}

// run reads the job's ranges from process pid, then calls after if every
// byte was read.
func (j *readJob) run(pid int) {
	for i := range j.batches {
		b := &j.batches[i]
		n, err := unix.ProcessVMReadv(pid, b.local, b.remote, 0)
		b.ok = err == nil && n == b.want
	}
	if j.after != nil && j.ok() {
		j.after(j.lo, j.hi)
	}
}

// ok reports whether every byte of the job was read.
func (j *readJob) ok() bool {
	for _, b := range j.batches {
		if !b.ok {
			return false
		}
	}
	return true
}

// readerSpin bounds how long the helper spins waiting for its half, should
// the engine never hand it one (the stop failed or is taking long).
const readerSpin = 50 * time.Millisecond

// helpedThreads is the number of threads from which the stacks are read
// on two CPUs: below, reading them all takes less than a helper costs.
const helpedThreads = 32

// newStackReader returns a reader for process pid, which has about n
// threads, or nil when they are too few to need help or the program
// cannot run two threads at once (GOMAXPROCS or the CPUs it may use): the
// helper would then take its CPU from the ptrace thread.
func newStackReader(pid, n int) *stackReader {
	if n < helpedThreads || runtime.GOMAXPROCS(0) < 2 || runtime.NumCPU() < 2 {
		return nil
	}
	r := &stackReader{pid: pid, wake: make(chan struct{}, 1)}
	go r.help()
	return r
}

// help is the helper goroutine: each wake-up, it spins until it is handed
// a job, runs it, and sleeps again; it returns when the reader is closed.
func (r *stackReader) help() {
	for range r.wake {
		deadline := time.Now().Add(readerSpin)
		for spins := 0; !r.cancel.Load(); spins++ {
			if j := r.job.Swap(nil); j != nil && j.claimed.CompareAndSwap(false, true) {
				j.run(r.pid)
				j.done.Store(true)
				break
			}
			if spins%64 == 63 && time.Now().After(deadline) {
				break
			}
			yieldCPU()
		}
	}
}

// start wakes the helper, which spins from then on until it is handed a
// job (see read) or cancelled.
func (r *stackReader) start() {
	if r == nil {
		return
	}
	r.cancel.Store(false)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// stop cancels the helper's current spin, if any.
func (r *stackReader) stop() {
	if r != nil {
		r.cancel.Store(true)
	}
}

// close ends the helper.
func (r *stackReader) close() {
	if r != nil {
		r.cancel.Store(true)
		close(r.wake)
	}
}

// read reads remote ranges into local buffers (pairwise) from process pid
// and reports whether every byte was read. When r is not nil (and was
// started), the second half of the ranges is handed to the helper, and
// taken back should the helper not have begun it by the time the first
// half is read. after, if not nil, is called on each half (the indices of
// its ranges) once it was read entirely, by the goroutine that read it:
// work on the stacks that can be done in parallel.
func (r *stackReader) read(pid int, local []unix.Iovec, remote []unix.RemoteIovec, after func(lo, hi int)) bool {
	if r == nil || len(local) < 2 {
		j := newReadJob(local, remote, 0, len(local), after)
		j.run(pid)
		r.stop()
		return j.ok()
	}
	mid := len(local) / 2
	mine, theirs := newReadJob(local, remote, 0, mid, after), newReadJob(local, remote, mid, len(local), after)
	r.job.Store(theirs)
	mine.run(pid)
	if theirs.claimed.CompareAndSwap(false, true) {
		r.job.CompareAndSwap(theirs, nil)
		theirs.run(pid)
	} else {
		for !theirs.done.Load() {
			yieldCPU()
		}
	}
	r.stop()
	return mine.ok() && theirs.ok()
}
