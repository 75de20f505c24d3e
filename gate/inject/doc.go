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
//     restores itself. Signals arriving meanwhile are held and re-delivered
//     once;
//  4. stops the world once, for the switch (PTRACE_SEIZE with
//     PTRACE_O_TRACECLONE of every thread first, never PTRACE_O_EXITKILL,
//     then a single round of interrupts and a final rescan of
//     /proc/PID/task), checks that no thread has OLD code on its stack
//     (instruction pointer and a conservative stack scan; a busy thread alone
//     is let run on in short slices, without breakpoints, within a budget),
//     writes a 5-byte jmp over the entry of every exported function of OLD
//     (of the functions a patch object's .patchinfo lists), each as one
//     aligned 8-byte word, into trampolines in pages mapped within ±2 GiB,
//     and releases every thread at once. A thread in a group-stop (SIGSTOP)
//     is never resumed by the engine, only listened to (PTRACE_LISTEN);
//  5. journals every write (fsync'd before the write) so that Revert restores
//     the exact bytes, even after a crash of the engine.
//
// Apply and Revert hold no package-level state: processes may be worked on
// in parallel, each from its own ptrace thread.
//
// All ptrace requests are made from one goroutine locked to its OS thread
// (see ptraceThread), as delve's native backend does.
package inject
