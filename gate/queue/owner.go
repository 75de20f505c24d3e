package queue

import (
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ownerID names an open queue of the current process in a way that survives
// PID reuse: host, PID, the process's start time in clock ticks since boot,
// and a random tag telling apart two queues opened by one process.
func ownerID() string {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return fmt.Sprintf("%s:%d:%d:%s", host, pid, startTime(pid), rand.Text()[:8])
}

// ownerGone reports whether owner (as made by ownerID) is a process of this
// host that no longer runs. Owners on other hosts are never reported gone:
// their executors recover their own entries.
func ownerGone(owner string) bool {
	k := strings.LastIndexByte(owner, ':')
	if k < 0 {
		return true
	}
	owner = owner[:k] // the tag
	i := strings.LastIndexByte(owner, ':')
	if i < 0 {
		return true
	}
	rest, start := owner[:i], owner[i+1:]
	j := strings.LastIndexByte(rest, ':')
	if j < 0 {
		return true
	}
	host, pidStr := rest[:j], rest[j+1:]
	if me, _ := os.Hostname(); host != me {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil {
		return true
	}
	return strconv.FormatInt(startTime(pid), 10) != start
}

// startTime returns field 22 of /proc/PID/stat, the process start time, or
// -1 when the process does not exist.
func startTime(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name (field 2) is parenthesised and may hold spaces.
	s := string(b)
	k := strings.LastIndexByte(s, ')')
	if k < 0 {
		return -1
	}
	f := strings.Fields(s[k+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return -1
	}
	// A zombie has exited: it owns nothing any more.
	if f[0] == "Z" || f[0] == "X" {
		return -1
	}
	n, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return -1
	}
	return n
}
