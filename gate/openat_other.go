//go:build unix && !linux

package gate

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// openBeneath opens name, a file of the directory dir, for reading:
// openat with O_NOFOLLOW, without blocking on a FIFO. name must be one
// component (release names are).
func openBeneath(dir *os.File, name string) (*os.File, error) {
	if strings.Contains(name, "/") {
		return nil, &os.PathError{Op: "open", Path: name, Err: unix.EXDEV}
	}
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}
