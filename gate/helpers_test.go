package gate

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildLib compiles testdata/libdemo.c into dir/name with gcc and extra flags.
func buildLib(t testing.TB, dir, name string, flags ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	args := append([]string{"-shared", "-fPIC", "-g", "-O1", "-Wl,--build-id", "-Wl,-soname,libdemo.so.1",
		"-o", out, filepath.Join(testdataDir(t), "libdemo.c")}, flags...)
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

func testdataDir(t testing.TB) string {
	d, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// requireGCC skips the test when gcc is missing.
func requireGCC(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found")
	}
}

// buildDaemon compiles testdata/daemon.c against the library installed at lib.
func buildDaemon(t testing.TB, lib string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "daemon")
	args := []string{"-O1", "-o", out, filepath.Join(testdataDir(t), "daemon.c"), lib, "-Wl,-rpath," + filepath.Dir(lib)}
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// daemon is a running test daemon and the files it writes.
type daemon struct {
	bin, pidFile, out string
	env               string // VAR=value, set for the daemon when not empty
}

func newDaemon(t testing.TB, bin string) *daemon {
	dir := t.TempDir()
	d := &daemon{bin: bin, pidFile: filepath.Join(dir, "daemon.pid"), out: filepath.Join(dir, "daemon.out")}
	t.Cleanup(d.killAll)
	return d
}

// relaunch is the shell command that starts the daemon in the background.
func (d *daemon) relaunch() string {
	env := ""
	if d.env != "" {
		env = d.env + " "
	}
	return env + d.bin + " " + d.pidFile + " " + d.out + " </dev/null >/dev/null 2>&1 &"
}

// start starts the daemon in the background, detached from the test
// process as a real daemon is (the injection engine must be its only
// tracer and waiter), and waits for its first report.
func (d *daemon) start(t testing.TB) int {
	t.Helper()
	before, _ := d.last()
	if b, err := exec.Command("/bin/sh", "-c", d.relaunch()).CombinedOutput(); err != nil {
		t.Fatalf("starting the daemon: %v\n%s", err, b)
	}
	var pid int
	waitFor(t, 5*time.Second, "the daemon to report", func() bool {
		pid, _ = d.last()
		return pid != 0 && pid != before
	})
	return pid
}

// last returns the PID and version of the daemon's last report.
func (d *daemon) last() (pid, version int) {
	f, err := os.Open(d.out)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 {
			pid, _ = strconv.Atoi(fields[0])
			version, _ = strconv.Atoi(fields[1])
		}
	}
	return pid, version
}

// killAll kills every process the daemon's output names.
func (d *daemon) killAll() {
	b, _ := os.ReadFile(d.out)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			if pid, err := strconv.Atoi(f[0]); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeRelease puts a release into dir: the file, then its checksum file
// (sha256sum format), as a publisher should.
func writeRelease(t testing.TB, dir, name, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	line := hex.EncodeToString(sum[:]) + "  " + name + "\n"
	if err := os.WriteFile(filepath.Join(dir, name+".sha256"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
