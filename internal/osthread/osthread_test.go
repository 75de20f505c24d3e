//go:build linux

package osthread

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The main goroutine runs on the main thread: TestMain can then put run in
// the position Go's goroutine is in when the scheduler gives it the main
// thread.
func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	if err := runOnMainThread(); err != nil {
		os.Stderr.WriteString("osthread: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// runOnMainThread calls run from the main thread and checks that fn ran
// on another thread, which then ended.
func runOnMainThread() error {
	if unix.Gettid() != unix.Getpid() {
		return errors.New("TestMain does not run on the main thread")
	}
	tids := make(chan int, 1)
	run(func() { tids <- unix.Gettid() })
	tid := <-tids
	if tid == unix.Getpid() {
		return errors.New("run ran fn on the main thread")
	}
	if err := waitGone(tid); err != nil {
		return err
	}
	if unix.Gettid() != unix.Getpid() {
		return errors.New("the main goroutine left the main thread")
	}
	return nil
}

// waitGone waits until thread tid of this process has exited.
func waitGone(tid int) error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if unix.Tgkill(unix.Getpid(), tid, 0) == unix.ESRCH {
			return nil
		}
	}
	return errors.New("the thread did not exit")
}

// TestGoEndsThread checks that each fn runs on a thread of its own, not the
// main one, which ends with it.
func TestGoEndsThread(t *testing.T) {
	for i := 0; i < 50; i++ {
		tids := make(chan int, 1)
		Go(func() { tids <- unix.Gettid() })
		tid := <-tids
		if tid == unix.Getpid() {
			t.Fatalf("fn ran on the main thread")
		}
		if err := waitGone(tid); err != nil {
			t.Fatalf("thread %d: %v", tid, err)
		}
	}
}
