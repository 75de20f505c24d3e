//go:build !(linux && amd64)

package inject

import (
	"context"
	"fmt"
	"runtime"
)

func errUnsupported() error {
	return fmt.Errorf("injection engine not supported on %s/%s (linux/amd64 only)", runtime.GOOS, runtime.GOARCH)
}

// Apply is not supported on this platform.
func Apply(ctx context.Context, pid int, oldPath, newPath string, opt Options) Result {
	return Result{PID: pid, Status: StatusError, Reason: errUnsupported().Error()}
}

// Revert is not supported on this platform.
func Revert(ctx context.Context, pid int, oldPath string, opt Options) Result {
	return Result{PID: pid, Status: StatusError, Reason: errUnsupported().Error()}
}

// Query is not supported on this platform.
func Query(pid int, opt Options) ProcessState {
	return ProcessState{PID: pid, Status: StatusError, Reason: errUnsupported().Error()}
}
