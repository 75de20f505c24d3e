//go:build linux && amd64

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// proc is a program the soak drives line by line through its stdin and
// stdout.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.Writer
	lines  chan string
	exited chan error // the program's exit, once its output ended
}

// startProc starts the program name with args, its stderr the soak's.
func startProc(name string, args ...string) (*proc, error) {
	cmd := exec.Command(name, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{cmd: cmd, stdin: stdin, lines: make(chan string, 16), exited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.exited <- cmd.Wait()
	}()
	return p, nil
}

// pid returns the program's process ID.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// ask sends the line c (none when empty) and returns the next line the
// program prints, waiting at most timeout; an error when the program is
// gone or silent.
func (p *proc) ask(c string, timeout time.Duration) (string, error) {
	if c != "" {
		if _, err := io.WriteString(p.stdin, c+"\n"); err != nil {
			return "", fmt.Errorf("%s gone: %w", p.cmd.Path, err)
		}
	}
	select {
	case l, ok := <-p.lines:
		if !ok {
			return "", fmt.Errorf("%s exited: %v", p.cmd.Path, <-p.exited)
		}
		return l, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("%s did not answer %q within %v", p.cmd.Path, c, timeout)
	}
}

// kill ends the program.
func (p *proc) kill() { p.cmd.Process.Kill() }
