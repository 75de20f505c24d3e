//go:build unix

// Package trust checks that files a program running as root acts on cannot
// have been planted or changed by another user, as sshd's StrictModes does:
// each file, and every directory above it up to "/", must be owned by root,
// the effective user or an owner the configuration names, and must not be
// writable by group or others. A directory above the file that is writable
// by others may still be trusted when it is sticky and owned by root (as
// /tmp): nobody else can then rename or remove what root put in it.
package trust

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Policy says who, besides root and the effective user, may own trusted
// files. The zero Policy trusts only those two.
type Policy struct {
	Owners []uint32
}

// ParseOwner returns the policy trusting a user given by name or numeric
// ID as well; "" gives the zero Policy.
func ParseOwner(owner string) (Policy, error) {
	if owner == "" {
		return Policy{}, nil
	}
	if n, err := strconv.ParseUint(owner, 10, 32); err == nil {
		return Policy{Owners: []uint32{uint32(n)}}, nil
	}
	u, err := user.Lookup(owner)
	if err != nil {
		return Policy{}, fmt.Errorf("owner %q: %w", owner, err)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return Policy{}, fmt.Errorf("owner %q: user ID %q: %w", owner, u.Uid, err)
	}
	return Policy{Owners: []uint32{uint32(n)}}, nil
}

// owned reports whether uid may own trusted files.
func (p Policy) owned(uid uint32) bool {
	if uid == 0 || uid == uint32(os.Geteuid()) {
		return true
	}
	for _, o := range p.Owners {
		if o == uid {
			return true
		}
	}
	return false
}

// CheckInfo checks one file (not the directories above it) from its
// attributes, as fstat or lstat returned them; name names it in the error.
func (p Policy) CheckInfo(name string, fi fs.FileInfo) error {
	return p.check(name, fi, false)
}

// check checks fi; parent allows a root-owned sticky directory writable by
// others.
func (p Policy) check(name string, fi fs.FileInfo, parent bool) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot read its owner", name)
	}
	if !p.owned(st.Uid) {
		return fmt.Errorf("%s is owned by %s, not by root or a trusted owner", name, userName(st.Uid))
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		if parent && fi.IsDir() && fi.Mode()&fs.ModeSticky != 0 && st.Uid == 0 {
			return nil
		}
		return fmt.Errorf("%s is writable by group or others (mode %04o)", name, uint32(perm)|stickyBit(fi))
	}
	return nil
}

func stickyBit(fi fs.FileInfo) uint32 {
	if fi.Mode()&fs.ModeSticky != 0 {
		return 0o1000
	}
	return 0
}

// CheckPath checks the file or directory at path and every directory above
// it, up to "/". Symbolic links on the way are followed, and both the
// directories that hold them and the directories they lead to are checked.
func (p Policy) CheckPath(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := p.checkChain(abs); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	if real != abs {
		return p.checkChain(real)
	}
	return nil
}

// checkChain checks each prefix of the clean absolute path abs; symbolic
// links themselves are skipped (their mode means nothing).
func (p Policy) checkChain(abs string) error {
	parts := strings.Split(strings.TrimPrefix(filepath.Clean(abs), "/"), "/")
	cur := "/"
	chain := []string{cur}
	for _, part := range parts {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		chain = append(chain, cur)
	}
	for i, c := range chain {
		fi, err := os.Lstat(c)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		if err := p.check(c, fi, i < len(chain)-1); err != nil {
			return err
		}
	}
	return nil
}

// userName returns "user NAME (UID)", or "user ID UID" for an unknown one.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return fmt.Sprintf("user %s (%s)", u.Username, id)
	}
	return "user ID " + id
}
