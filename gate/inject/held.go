//go:build linux && amd64

package inject

import (
	"encoding/binary"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A signal that a borrowed thread dequeues during a remote operation (its
// signal-delivery-stop) must not run the program's handler then: it is
// held, with its whole siginfo (PTRACE_GETSIGINFO), and delivered again
// once, as it came, when the thread is released (see redeliver).

// siginfo is a raw siginfo_t.
type siginfo [128]byte

func (s *siginfo) signo() int  { return int(int32(binary.LittleEndian.Uint32(s[0:]))) }
func (s *siginfo) code() int32 { return int32(binary.LittleEndian.Uint32(s[8:])) }

const siTkill = -6 // SI_TKILL

// hold takes the signal of th's signal-delivery-stop away from it, keeping
// its siginfo, to be delivered again by redeliver.
func (t *tracer) hold(th *thread) {
	if th.kind != stopSignal || th.sig == 0 {
		return
	}
	var info siginfo
	if err := ptrace(unix.PTRACE_GETSIGINFO, th.tid, 0, uintptr(unsafe.Pointer(&info[0]))); err != nil || info.signo() != th.sig {
		// Cannot happen in a signal-delivery-stop; keep the number.
		info = siginfo{}
		binary.LittleEndian.PutUint32(info[0:], uint32(th.sig))
		code := int32(siTkill)
		binary.LittleEndian.PutUint32(info[8:], uint32(code))
	}
	th.held = append(th.held, info)
	th.sig = 0
}

// redeliver makes the signals held from th (stopped, about to be detached)
// pending again with their own siginfo, each once:
//
//   - one the kernel lets any process queue (si_code < 0 but SI_TKILL:
//     sigqueue, timers, asynchronous I/O, mq_notify) is put back with
//     rt_tgsigqueueinfo, siginfo and all;
//   - another one (kill, tgkill, a kernel-generated one) would get the
//     engine's identity if re-sent, so it is delivered through a
//     signal-delivery-stop instead: the same signal is sent with tgkill, the
//     thread let run to dequeue it (which it does before running any code
//     of its own), and at the stop its siginfo is replaced with the held one
//     (PTRACE_SETSIGINFO); the thread is left in that stop, so that
//     detaching it with the signal delivers it. Only if the thread does not
//     reach the stop quickly (the signal blocked meanwhile) is the plain
//     tgkill left to be delivered.
//
// It returns the signal to detach th with.
func (t *tracer) redeliver(th *thread) int {
	sig := 0
	if th.kind == stopSignal {
		sig = th.sig
	}
	if len(th.held) == 0 {
		return sig
	}
	held := th.held
	th.held = nil
	var rest []siginfo
	for i := range held {
		info := &held[i]
		if c := info.code(); c < 0 && c != siTkill {
			_, _, e := unix.Syscall6(unix.SYS_RT_TGSIGQUEUEINFO, uintptr(t.pid), uintptr(th.tid), uintptr(info.signo()), uintptr(unsafe.Pointer(&info[0])), 0, 0)
			if e == 0 {
				continue
			}
		}
		rest = append(rest, *info)
	}
	for i, info := range rest {
		if th.groupStop || th.listening {
			unix.Tgkill(t.pid, th.tid, unix.Signal(info.signo()))
			continue
		}
		if err := unix.Tgkill(t.pid, th.tid, unix.Signal(info.signo())); err != nil {
			continue
		}
		if !t.stopAtSignal(th, sig, info.signo(), time.Now().Add(redeliverTimeout)) {
			// Not reached: the tgkill'd signal stays pending; deliver the
			// others the same way.
			for _, r := range rest[i+1:] {
				unix.Tgkill(t.pid, th.tid, unix.Signal(r.signo()))
			}
			if th.kind == stopSignal {
				return th.sig
			}
			return 0
		}
		ptrace(unix.PTRACE_SETSIGINFO, th.tid, 0, uintptr(unsafe.Pointer(&info[0])))
		sig = info.signo()
	}
	return sig
}

// redeliverTimeout bounds the wait for a thread to reach the
// signal-delivery-stop of a signal redeliver sent it. Reaching it may take
// the run of a handler (the signal delivered before, whose handler blocks
// this one until it returns), which on a loaded machine took more than the
// 100 ms this was (TestSiginfoPreserved/kill at load average 280: the
// rest of the held signals then went out as plain tgkill, SI_TKILL). A
// thread that cannot get there (its handler waits for a thread still
// stopped) costs this much once.
const redeliverTimeout = time.Second

// stopAtSignal resumes th (stopped), delivering sig, until its
// signal-delivery-stop for signal want; other signals met on the way are
// delivered as they come. It reports whether th is in that stop.
func (t *tracer) stopAtSignal(th *thread, sig, want int, deadline time.Time) bool {
	for {
		th.sig, th.stopped, th.kind, th.regs = 0, false, stopNone, nil
		if err := ptrace(unix.PTRACE_CONT, th.tid, 0, uintptr(sig)); err != nil {
			return false
		}
		err := t.waitStopped(th, deadline)
		if err != nil {
			if t.threads[th.tid] != nil && !th.stopped {
				ptrace(unix.PTRACE_INTERRUPT, th.tid, 0, 0)
				t.waitStopped(th, t.stopDeadline())
			}
			return false
		}
		switch {
		case th.kind == stopSignal && th.sig == want:
			return true
		case th.kind == stopSignal:
			sig = th.sig
		default:
			sig = 0
		}
	}
}
