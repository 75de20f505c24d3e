//go:build unix

// Package testuser creates a real unprivileged user for tests that check
// what such a user can and cannot do to a program running as root, and
// removes it when the test ends.
package testuser

import (
	"crypto/rand"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// User is an unprivileged user made for one test.
type User struct {
	Name     string
	UID, GID uint32
}

// New creates a user with no home and no login shell, removed when t ends.
// It skips t when the test does not run as root or useradd is missing.
func New(t testing.TB) User {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a user needs root")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("useradd not found")
	}
	name := "cgt" + strings.ToLower(rand.Text()[:8])
	if b, err := exec.Command("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, b)
	}
	t.Cleanup(func() {
		if b, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, b)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return User{Name: name, UID: uint32(uid), GID: uint32(gid)}
}

// Command returns a command that runs as the user.
func (u User) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID}}
	cmd.Dir = "/"
	return cmd
}

// Run runs a shell command as the user and fails t if it fails.
func (u User) Run(t testing.TB, script string) {
	t.Helper()
	if b, err := u.Command("/bin/sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("as %s: %s: %v: %s", u.Name, script, err, b)
	}
}

// Chown gives path to the user.
func (u User) Chown(t testing.TB, path string) {
	t.Helper()
	if err := os.Lchown(path, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
}
