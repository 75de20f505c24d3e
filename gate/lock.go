package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// locksDir is the subdirectory of the state directory holding lock files.
const locksDir = "locks"

// lockLibrary takes the lock of the library at lib (a resolved path), so
// that no other upgrade, rollback or install of it runs meanwhile, in this
// process or another one using the state directory. It waits while ctx
// allows, and returns the release.
func lockLibrary(ctx context.Context, stateDir, lib string) (func(), error) {
	sum := sha256.Sum256([]byte(lib))
	name := filepath.Base(lib) + "-" + hex.EncodeToString(sum[:8]) + ".lock"
	f, err := openLock(stateDir, name)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", lib, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", lib, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", lib, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LockInstance takes the lock that lets one compatgate serve run per state
// directory; it fails at once when another one holds it.
func LockInstance(stateDir string) (func(), error) {
	f, err := openLock(stateDir, "serve.lock")
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another compatgate serve runs with the state directory %s", stateDir)
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}

// openLock opens (creating, 0600) the lock file name in the state
// directory's locks directory. Lock files stay: removing one another
// process waits on would let two hold "the" lock.
func openLock(stateDir, name string) (*os.File, error) {
	dir := filepath.Join(stateDir, locksDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
}
