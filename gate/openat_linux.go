package gate

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// openBeneath opens name, a file of the directory dir, for reading with
// openat2: resolved beneath dir, through no symbolic link, without
// blocking on a FIFO. Kernels without openat2 (before 5.6) get openat with
// O_NOFOLLOW, the same for a name of one component.
func openBeneath(dir *os.File, name string) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Openat2(int(dir.Fd()), name, &unix.OpenHow{Flags: uint64(flags),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		fd, err = unix.Openat(int(dir.Fd()), name, flags, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}
