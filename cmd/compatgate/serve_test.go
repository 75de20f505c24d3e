//go:build unix

package main

import (
	"bufio"
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

// serve stops cleanly on SIGTERM: exit status 0, "stopped" logged.
func TestServeStopsOnSIGTERM(t *testing.T) {
	releases := t.TempDir()
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
	cmd.Process.Signal(syscall.SIGTERM)
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
