// Package inject is compatgate's injection engine: it hot-upgrades running
// processes from one build of a shared library (OLD) to a compatible build
// (NEW) without restarting them, and reverts the upgrade.
//
// The engine works on linux/amd64 only; on other platforms every entry point
// returns a "not supported" error. For one process, Apply:
//
//  1. verifies that the process maps OLD (matched by GNU build-id read from
//     the mapped file itself through /proc/PID/map_files, so a "(deleted)"
//     mapping of a replaced file is still recognised);
//  2. while the process runs, looks at every thread (a blocked one through
//     /proc/PID/task/TID/syscall, a running one stopped alone for a moment):
//     a thread with OLD code on its stack makes it wait, then report busy;
//     a thread fit to run dlopen is stopped alone (see pickHijack);
//  3. calls dlopen(NEW, RTLD_NOW|RTLD_LOCAL) in that thread while every other
//     thread runs. The thread is never one that may hold the dynamic
//     loader's or the allocator's lock (see lockScan); when none is fit the
//     engine retries with backoff, then reports busy. Before touching the
//     thread the engine writes a kernel signal frame holding its whole state
//     (registers, XSAVE area, signal mask) on its stack below the red zone,
//     and every remote operation, left to itself, ends in rt_sigreturn on it
//     (see sigframe.go): an engine killed at any point leaves a thread that
//     restores itself. Signals the thread dequeues meanwhile are held with
//     their whole siginfo and delivered again once, as they came (see
//     held.go). A call still running at its timeout (CallTimeout: NEW's
//     constructors are slow) is never cut short, since the thread then
//     holds the loader's lock: it is waited for as long again and NEW
//     unloaded, or else left to finish on its own in the thread, which
//     restores itself from its signal frame; either way apply reports an
//     error;
//  4. stops the world once, for the switch (PTRACE_SEIZE with
//     PTRACE_O_TRACECLONE of every thread first, never PTRACE_O_EXITKILL,
//     then a single round of interrupts and a final rescan of
//     /proc/PID/task), checks that no thread has OLD code on its stack
//     (instruction pointer and a conservative stack scan; a busy thread is
//     let run on alone in short slices, without breakpoints, for at most
//     20 ms; past that the world is released, the busy thread watched, the
//     process running, until it was seen outside, and stopped again; all
//     within a budget; see settle),
//     writes a 5-byte jmp over the entry of every exported function of OLD
//     (of the functions a patch object's .patchinfo lists), each as one
//     aligned 8-byte word, into trampolines in pages mapped within ±2 GiB,
//     and releases every thread at once. An entry without endbr64 lying 1
//     to 4 bytes before the end of its word (so also one whose first
//     instructions cross a page boundary) takes the jmp only through a
//     trampoline at the displacement the next word's bytes already encode;
//     when no page fits there, the entry gets a 2-byte short jump, in its
//     own word, to a jmp written first into int3/nop padding of OLD within
//     ±127 bytes (see pad.go). A function whose entry takes no jump at all
//     (too short, a branch into its first bytes, neither of the above) is
//     redirected through the GOT words of the objects importing it (see
//     got.go). Only the
//     stop of the world, the checks and the writes happen inside the stop:
//     everything is computed, mapped and journaled before it;
//     In the drain model (Options.Drain, for an OLD and NEW that share every
//     private layout) a thread with OLD code on its stack does not make
//     apply wait: only one executing, or returning into, the bytes the
//     writes replace does. The others are counted as draining, and once
//     the process is released the engine watches them leave OLD (see
//     drain.go), never keeping a thread stopped while it waits;
//  5. leaves a process stopped by its owner (SIGSTOP) stopped: a thread in a
//     group-stop is never resumed by the engine, only listened to
//     (PTRACE_LISTEN), and one found inside OLD makes apply report busy at
//     once, since it will not move (one inside NEW keeps NEW loaded after a
//     revert). dlopen and dlclose may still run in such a thread: the
//     engine's code, not the program's;
//  6. journals every write (fsync'd before the write) so that Revert restores
//     the exact bytes, even after a crash of the engine.
//
// Revert stops the world once to restore the words (a thread at a
// trampoline's or a padding jump is moved on to its destination), releases
// the process, then unmaps the trampoline pages. NEW is never unloaded:
// objects created while it was in effect may point into its data (a zlib
// stream at its static tables, a C++ object at its vtables), and OLD's code
// follows those pointers after the revert. A later apply of the same build
// reuses the loaded copy (dlopen returns it), so a NEW left loaded by an
// engine killed between dlopen and its journal record is reused too.
//
// A process whose main thread has exited (pthread_exit) while others run
// is worked on through a live thread's /proc/TID (the zombie leader's
// maps and memory are empty). A process traced by someone else (a
// debugger) is left alone: busy.
//
// While the world is not stopped the engine sleeps (with a 1ns timer slack)
// rather than spin when it waits for the target, so that on a machine with
// few CPUs the target's threads are not made to wait for it; inside the
// stop it spins, and once every thread is stopped its ptrace thread runs in
// SCHED_FIFO until the release, when permitted (see urgent), so that on a
// loaded machine no other thread delays it while the world waits for it.
//
// Apply and Revert hold no package-level state: processes may be worked on
// in parallel, each from its own ptrace thread.
//
// All ptrace requests are made from one goroutine locked to its OS thread
// (see ptraceThread), as delve's native backend does.
package inject
