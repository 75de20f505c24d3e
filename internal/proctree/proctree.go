//go:build unix

// Package proctree kills a process and every process descended from it,
// as systemd's KillMode=control-group kills every process of a service's
// cgroup, whatever process group each is in: the crash tests use it.
package proctree

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Kill stops the process pid and all its descendants with SIGSTOP, until
// no new one appears, then kills them all with SIGKILL, descendants before
// their ancestors. That order matters: a process group left without its
// parent while a member is stopped is an orphaned group with stopped jobs,
// to which the kernel sends SIGHUP and SIGCONT — a signal systemd's kill
// never causes, which would end a restart command with "Hangup" before
// its SIGKILL. It returns how many processes it killed.
func Kill(pid int) int {
	stopped := map[int]bool{}
	var order []int // in the order found: ancestors before descendants
	for {
		tree := descendants(pid)
		n := len(stopped)
		for _, p := range tree {
			if !stopped[p] {
				syscall.Kill(p, syscall.SIGSTOP)
				stopped[p] = true
				order = append(order, p)
			}
		}
		if len(stopped) == n {
			break
		}
	}
	for i := len(order) - 1; i >= 0; i-- {
		syscall.Kill(order[i], syscall.SIGKILL)
	}
	return len(order)
}

// descendants returns pid and every live process below it.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		k := strings.LastIndexByte(s, ')')
		if k < 0 {
			continue
		}
		f := strings.Fields(s[k+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
