//go:build unix

package trust

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/internal/testuser"
)

// Files and directories an unprivileged user owns, or that group or others
// may write, are refused, at the leaf and above it; a root-owned sticky
// directory above (as /tmp) is not a reason to refuse.
func TestCheckPath(t *testing.T) {
	u := testuser.New(t)
	base := t.TempDir() // under /tmp: sticky, root-owned
	mk := func(t *testing.T, mode os.FileMode) (dir, file string) {
		dir = filepath.Join(base, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		file = filepath.Join(dir, "f")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir, file
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, file string)
		want  string // in the error; "" for none
	}{
		{"ok", func(*testing.T, string, string) {}, ""},
		{"file of a user", func(t *testing.T, _, f string) { u.Chown(t, f) }, "owned by user " + u.Name},
		{"group-writable file", func(t *testing.T, _, f string) { os.Chmod(f, 0o664) }, "writable by group or others (mode 0664)"},
		{"world-writable dir", func(t *testing.T, d, _ string) { os.Chmod(d, 0o777) }, "writable by group or others (mode 0777)"},
		{"sticky world-writable dir above", func(t *testing.T, d, _ string) { os.Chmod(d, os.ModeSticky|0o777) }, ""},
		{"dir of a user", func(t *testing.T, d, _ string) { u.Chown(t, d) }, "owned by user " + u.Name},
		{"symlink into a user's dir", func(t *testing.T, d, f string) {
			ud := filepath.Join(d, "userdir")
			os.Mkdir(ud, 0o755)
			u.Chown(t, ud)
			os.WriteFile(filepath.Join(ud, "g"), []byte("x"), 0o644)
			os.Remove(f)
			os.Symlink(filepath.Join(ud, "g"), f)
		}, "owned by user " + u.Name},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, file := mk(t, 0o755)
			tc.setup(t, dir, file)
			err := Policy{}.CheckPath(file)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("CheckPath: %v, want %q", err, tc.want)
			}
		})
	}
	// The configured owner is trusted.
	dir, file := mk(t, 0o755)
	u.Chown(t, dir)
	u.Chown(t, file)
	p, err := ParseOwner(u.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckPath(file); err != nil {
		t.Errorf("with owner %s: %v", u.Name, err)
	}
	if err := (Policy{}).CheckPath(filepath.Join(base, "missing")); err == nil {
		t.Error("a missing file passed")
	}
}
