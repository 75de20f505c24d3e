//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cliHelperEnv makes the test binary run compatgate's main with the
// arguments in $COMPATGATE_ARGS (newline-separated), for tests that signal
// a real compatgate process.
const cliHelperEnv = "COMPATGATE_CLI_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(cliHelperEnv) == "1" {
		os.Args = append([]string{"compatgate"}, strings.Split(os.Getenv("COMPATGATE_ARGS"), "\n")...)
		main()
		return
	}
	os.Exit(m.Run())
}

// serve stops cleanly on SIGTERM and on SIGINT: exit status 0, "stopped"
// logged — also with FIFOs named like a release and its checksum in the
// release directory, which once blocked it for good.
func TestServeStopsOnSIGTERM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { serveStops(t, sig) })
	}
}

func serveStops(t *testing.T, sig syscall.Signal) {
	releases := t.TempDir()
	for _, f := range []string{"libdemo.so.1.2", "libdemo.so.1.3.sha256"} {
		if err := syscall.Mkfifo(filepath.Join(releases, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(releases, "libdemo.so.1.3"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(releases, "libdemo.so.1.2.sha256"), []byte(strings.Repeat("0", 64)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "subscriptions.toml")
	text := `[[library]]
path = "/nonexistent/libdemo.so.1"
releases = "` + releases + `"
[library.followers]
all = true
[library.restart]
command = "true"
`
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cliHelperEnv+"=1",
		"COMPATGATE_ARGS=serve\n--config\n"+config+"\n--state-dir\n"+t.TempDir()+"\n--log-format\njson")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	wait := func(what string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("serve exited before logging %q", what)
				}
				if strings.Contains(l, what) {
					return
				}
			case <-timeout:
				cmd.Process.Kill()
				t.Fatalf("serve did not log %q", what)
			}
		}
	}
	wait(`"msg":"watching"`)
	wait(`not a regular file`) // both FIFOs were looked at
	wait(`not a regular file`)
	cmd.Process.Signal(sig)
	wait(`"msg":"stopped"`)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
}

// serve returns at once for a bad configuration, with one line.
func TestServeBadConfig(t *testing.T) {
	config := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(config, []byte("[[library]]\npath = \"relative\"\n"), 0o644)
	code, _, stderr := queueCLI("serve", "--config", config, "--state-dir", t.TempDir())
	if code != exitError || !strings.Contains(stderr, "absolute") {
		t.Errorf("exit %d: %q", code, stderr)
	}
}

// The shipped systemd unit relies on KillMode=process, and its ExecStart
// is a valid serve command line.
func TestExampleServiceUnit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "compatgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	var exec []string
	kill := ""
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			exec = strings.Fields(v)
		}
		if v, ok := strings.CutPrefix(line, "KillMode="); ok {
			kill = v
		}
	}
	if kill != "process" {
		t.Errorf("KillMode=%q, want process (docs/operator.md relies on it)", kill)
	}
	if len(exec) < 2 || filepath.Base(exec[0]) != "compatgate" || exec[1] != "serve" {
		t.Fatalf("ExecStart=%v", exec)
	}
	config := filepath.Join(t.TempDir(), "subscriptions.toml")
	text := "[[library]]\npath = \"/nonexistent/libdemo.so.1\"\nreleases = \"" + t.TempDir() + "\"\n[library.followers]\nall = true\n"
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve"}, exec[2:]...)
	for i, a := range args {
		if a == "/etc/compatgate/subscriptions.toml" {
			args[i] = config
		}
	}
	args = append(args, "--state-dir", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	errb := &stopOnWrite{cancel: cancel, when: `"msg":"watching"`}
	if code := run(env{ctx: ctx, args: args, stdout: &out, stderr: errb}); code != exitOK {
		t.Errorf("%v: exit %d: %s", args, code, errb.String())
	}
}

// stopOnWrite collects what is written and calls cancel once it holds when.
type stopOnWrite struct {
	bytes.Buffer
	cancel func()
	when   string
}

func (w *stopOnWrite) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(w.String(), w.when) {
		w.cancel()
	}
	return n, err
}
