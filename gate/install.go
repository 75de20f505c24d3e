package gate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// PrevSuffix is appended to a library's path to name the file Install keeps
// for Rollback: the build that was installed before the latest upgrade.
const PrevSuffix = ".compatgate-prev"

// PrevPath returns where the previous build of the library at lib is kept.
func PrevPath(lib string) string { return lib + PrevSuffix }

// Install installs a copy of src at dst atomically and durably: the copy is
// written to a temporary file in dst's directory, given dst's mode and
// owner, fsync'd, and renamed over dst, and the directory is fsync'd. Before
// the rename, the file at dst (if any) is kept at PrevPath(dst) as a hard
// link (a copy where links are not supported), replacing an older one. At
// every moment dst is either the whole old file or the whole new one, and
// processes that mapped the old file keep it.
func Install(src, dst string) error {
	dir := filepath.Dir(dst)
	pattern := "." + filepath.Base(dst) + ".compatgate-new-*"
	// Temporary files left by an install that was killed.
	if stale, err := filepath.Glob(filepath.Join(dir, pattern)); err == nil {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	tmp, err := copyTemp(src, dir, pattern, dst)
	if err != nil {
		return fmt.Errorf("installing %s at %s: %w", src, dst, err)
	}
	defer os.Remove(tmp) // after a successful rename, a no-op
	if _, err := os.Lstat(dst); err == nil {
		if err := keep(dst, PrevPath(dst)); err != nil {
			return fmt.Errorf("installing %s: keeping the previous file: %w", dst, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("installing %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("installing %s: %w", dst, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("installing %s: %w", dst, err)
	}
	return nil
}

// keep makes prev hold the file at path (a hard link, or a durable copy),
// replacing prev atomically.
func keep(path, prev string) error {
	dir := filepath.Dir(prev)
	tmp := filepath.Join(dir, "."+filepath.Base(prev)+".tmp")
	os.Remove(tmp)
	if err := os.Link(path, tmp); err != nil {
		t, cerr := copyTemp(path, dir, "."+filepath.Base(prev)+".tmp-*", path)
		if cerr != nil {
			return fmt.Errorf("%w (and copying: %v)", err, cerr)
		}
		tmp = t
	}
	err := os.Rename(tmp, prev)
	// When tmp and prev are links of one file (after a rollback made the
	// library and its kept build one file), rename does nothing and
	// leaves tmp: remove it either way.
	os.Remove(tmp)
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// copyTemp copies src to a new temporary file in dir (named by pattern),
// with the mode and owner of like (src's mode when like does not exist),
// fsync'd, and returns its path.
func copyTemp(src, dir, pattern, like string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", src)
	}
	mode := st.Mode().Perm() &^ 0o022
	uid, gid := -1, -1
	if lst, err := os.Stat(like); err == nil && like != src {
		mode = lst.Mode().Perm()
		if sys, ok := lst.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(sys.Uid), int(sys.Gid)
		}
	}
	out, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return "", err
	}
	if err := out.Chmod(mode); err != nil {
		return "", err
	}
	if uid >= 0 && os.Geteuid() == 0 {
		if err := out.Chown(uid, gid); err != nil {
			return "", err
		}
	}
	if err := out.Sync(); err != nil {
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	ok = true
	return out.Name(), nil
}

// syncDir fsyncs a directory, so that renames in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
