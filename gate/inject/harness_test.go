//go:build linux && amd64

package inject

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/compatgate/compatgate/internal/osthread"
)

// fixture is the set of programs and libraries the tests run, compiled
// with gcc once per test binary.
type fixture struct {
	dir      string
	v1, v2   string // OLD and NEW
	v3       string // a third version, to stack upgrades
	private  string // NEW with library-private state
	exit     string // NEW whose constructor exits the process
	slow     string // NEW whose constructor sleeps 2.5s
	late     string // NEW whose constructor sleeps 700ms
	announce string // NEW whose constructor prints "loading" and sleeps 400ms
	other    string // another build of OLD, same file name
	target   string
}

var (
	fixMu    sync.Mutex
	fixtures = map[string]*fixture{}
)

func gcc(args ...string) error {
	out, err := exec.Command("gcc", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func buildFixture(dir string, cflags ...string) (*fixture, error) {
	f := &fixture{dir: dir}
	lib := func(sub string, defs ...string) (string, error) {
		out := filepath.Join(dir, sub, "libver.so.1")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", err
		}
		args := append([]string{"-O2", "-fPIC", "-shared", "-Wl,-soname,libver.so.1", "-Wl,--build-id"}, cflags...)
		args = append(args, defs...)
		return out, gcc(append(args, "-o", out, "testdata/libver.c")...)
	}
	var err error
	steps := []struct {
		dst  *string
		sub  string
		defs []string
	}{
		{&f.v1, "v1", []string{"-DVERSION=1"}},
		{&f.v2, "v2", []string{"-DVERSION=2"}},
		{&f.v3, "v3", []string{"-DVERSION=3"}},
		{&f.private, "private", []string{"-DVERSION=2", "-DPRIVATE_STATE"}},
		{&f.exit, "exit", []string{"-DVERSION=2", "-DEXIT_ON_LOAD"}},
		{&f.slow, "slow", []string{"-DVERSION=2", "-DSLOW_LOAD=2500"}},
		{&f.late, "late", []string{"-DVERSION=2", "-DSLOW_LOAD=700"}},
		{&f.announce, "announce", []string{"-DVERSION=2", "-DANNOUNCE_LOAD"}},
		{&f.other, "other", []string{"-DVERSION=1", "-DVARIANT=7"}},
	}
	for _, s := range steps {
		if *s.dst, err = lib(s.sub, s.defs...); err != nil {
			return nil, err
		}
	}
	f.target = filepath.Join(dir, "target")
	args := append([]string{"-O2", "-pthread"}, cflags...)
	args = append(args, "-o", f.target, "testdata/target.c", f.v1, "-Wl,-rpath,"+filepath.Dir(f.v1))
	if err := gcc(args...); err != nil {
		return nil, err
	}
	return f, nil
}

// setup skips the test when gcc or ptrace is unavailable and returns the
// shared fixture, built with -fcf-protection so that functions start with
// endbr64 and the patch straddles a word boundary: the hard case.
func setup(t *testing.T) *fixture {
	t.Helper()
	return setupWith(t, "-fcf-protection=full")
}

// setupWith returns the fixture built with the given gcc flag.
func setupWith(t *testing.T, cflag string) *fixture {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: the injection tests compile their targets")
	}
	if err := ptraceAllowed(); err != nil {
		t.Skipf("ptrace is not permitted here: %v", err)
	}
	fixMu.Lock()
	defer fixMu.Unlock()
	if f := fixtures[cflag]; f != nil {
		return f
	}
	dir, err := os.MkdirTemp("", "inject-test-")
	if err != nil {
		t.Fatal(err)
	}
	f, err := buildFixture(dir, cflag)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	fixtures[cflag] = f
	return f
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range fixtures {
		os.RemoveAll(f.dir)
	}
	os.Exit(code)
}

// ptraceAllowed seizes and releases a child process.
func ptraceAllowed() error {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	errc := make(chan error, 1)
	// The thread ends with the function, and the kernel detaches the
	// tracee.
	osthread.Go(func() {
		errc <- ptrace(unix.PTRACE_SEIZE, cmd.Process.Pid, 0, 0)
	})
	return <-errc
}

// target is a running test program.
type target struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func startTarget(t *testing.T, f *fixture, args ...string) *target {
	t.Helper()
	tg := startProgram(t, f.target, args...)
	tg.expect("ready")
	return tg
}

// startProgram starts the program at path, talked to through pipes.
func startProgram(t *testing.T, path string, args ...string) *target {
	t.Helper()
	cmd := exec.Command(path, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tg := &target{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			tg.lines <- sc.Text()
		}
		close(tg.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return tg
}

func (tg *target) pid() int { return tg.cmd.Process.Pid }

// expect waits for a line starting with prefix and returns it.
func (tg *target) expect(prefix string) string {
	tg.t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-tg.lines:
			if !ok {
				tg.t.Fatalf("target exited while waiting for %q", prefix)
			}
			if strings.HasPrefix(l, "error") {
				tg.t.Fatalf("target reported %q", l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			tg.t.Fatalf("timed out waiting for %q from the target", prefix)
		}
	}
}

// ask sends a command and returns the reply line.
func (tg *target) ask(cmd string) string {
	tg.t.Helper()
	if _, err := io.WriteString(tg.stdin, cmd+"\n"); err != nil {
		tg.t.Fatal(err)
	}
	return tg.expect(strings.Fields(cmd)[0])
}

// opts returns options with a private state directory and budgets generous
// enough for a loaded CI machine.
func opts(t *testing.T) Options {
	return Options{StateDir: t.TempDir(), BusyTimeout: 30 * time.Second, CallTimeout: 30 * time.Second, StopTimeout: 30 * time.Second}
}

func mustStatus(t *testing.T, what string, r Result, want Status) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %s (%s), want %s", what, r.Status, r.Reason, want)
	}
}

func (f *fixture) oldLib() string { return f.v1 }

func (f *fixture) newLib() string { return f.v2 }

// startHandoff builds and starts testdata/handoff.c and returns it, ready,
// with the TID of its waiter thread; the test is skipped where ptrace is
// not permitted.
func startHandoff(t *testing.T) (*target, int) {
	t.Helper()
	if err := ptraceAllowed(); err != nil {
		t.Skipf("ptrace is not permitted here: %v", err)
	}
	prog := filepath.Join(t.TempDir(), "handoff")
	if err := gcc("-O2", "-pthread", "-o", prog, "testdata/handoff.c"); err != nil {
		t.Fatal(err)
	}
	tg := startProgram(t, prog)
	waiter, err := strconv.Atoi(strings.TrimPrefix(tg.expect("waiter "), "waiter "))
	if err != nil {
		t.Fatal(err)
	}
	tg.expect("ready")
	return tg, waiter
}
