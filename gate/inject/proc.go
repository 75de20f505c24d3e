//go:build linux && amd64

package inject

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// mapping is one line of /proc/PID/maps.
type mapping struct {
	start, end   uint64
	perms        string // e.g. "r-xp"
	offset       uint64
	major, minor uint32
	inode        uint64
	path         string // without the " (deleted)" suffix
	deleted      bool
}

func (m mapping) exec() bool { return len(m.perms) > 2 && m.perms[2] == 'x' }

func (m mapping) contains(a uint64) bool { return a >= m.start && a < m.end }

// mapFile is the path that opens the very file mapped here, even when it has
// been deleted or replaced on disk since.
func (m mapping) mapFile(pid int) string {
	return fmt.Sprintf("/proc/%d/map_files/%x-%x", liveTID(pid), m.start, m.end)
}

// liveTID returns the thread through which the memory of process pid is
// seen in /proc: pid itself, or, when its main thread has exited while
// others run (a zombie leader has no memory: /proc/PID/maps is empty,
// /proc/PID/mem reads nothing), the first live thread. /proc/TID works for
// any thread as /proc/PID does for the process.
func liveTID(pid int) int {
	if taskAlive(pid, pid) {
		return pid
	}
	tids, err := listTasks(pid)
	if err != nil {
		return pid
	}
	for _, tid := range tids {
		if taskAlive(pid, tid) {
			return tid
		}
	}
	return pid
}

// readMaps parses /proc/PID/maps.
func readMaps(pid int) ([]mapping, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", liveTID(pid)))
	if err != nil {
		return nil, fmt.Errorf("reading maps of process %d: %w", pid, err)
	}
	return parseMaps(data)
}

// parseMaps parses the text of a /proc/PID/maps file.
func parseMaps(data []byte) ([]mapping, error) {
	var maps []mapping
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		// start-end perms offset dev inode [path]
		f := strings.SplitN(line, " ", 6)
		if len(f) < 5 {
			return nil, fmt.Errorf("malformed maps line %q", line)
		}
		var m mapping
		se := strings.SplitN(f[0], "-", 2)
		if len(se) != 2 {
			return nil, fmt.Errorf("malformed maps range %q", f[0])
		}
		var err1, err2, err3, err4 error
		m.start, err1 = strconv.ParseUint(se[0], 16, 64)
		m.end, err2 = strconv.ParseUint(se[1], 16, 64)
		m.perms = f[1]
		m.offset, err3 = strconv.ParseUint(f[2], 16, 64)
		m.inode, err4 = strconv.ParseUint(f[4], 10, 64)
		if err := firstErr(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("malformed maps line %q: %w", line, err)
		}
		dev := strings.SplitN(f[3], ":", 2)
		if len(dev) == 2 {
			ma, e1 := strconv.ParseUint(dev[0], 16, 32)
			mi, e2 := strconv.ParseUint(dev[1], 16, 32)
			if e1 == nil && e2 == nil {
				m.major, m.minor = uint32(ma), uint32(mi)
			}
		}
		if len(f) == 6 {
			p := strings.TrimLeft(f[5], " ")
			if s, ok := strings.CutSuffix(p, " (deleted)"); ok && m.inode != 0 {
				p, m.deleted = s, true
			}
			m.path = p
		}
		maps = append(maps, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return maps, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// findMapping returns the mapping containing a.
func findMapping(maps []mapping, a uint64) (mapping, bool) {
	for _, m := range maps {
		if m.contains(a) {
			return m, true
		}
	}
	return mapping{}, false
}

// processStartTime returns field 22 of /proc/PID/stat, the start time of the
// process in clock ticks since boot: with the PID it identifies a process
// uniquely (a reused PID has another start time).
func processStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading stat of process %d: %w", pid, err)
	}
	// The command name (field 2) may contain spaces and parentheses: the
	// fields after it start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat of process %d", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed stat of process %d", pid)
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed start time of process %d: %w", pid, err)
	}
	return st, nil
}

// listTasks returns the thread ids of process pid, sorted.
func listTasks(pid int) ([]int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, fmt.Errorf("listing threads of process %d: %w", pid, err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	sort.Ints(tids)
	return tids, nil
}

// readStackMaps reads only the address ranges of /proc/PID/maps (the other
// fields of the mappings are left empty), with as few read calls as
// possible: enough to find the stack mapping of a thread, fast enough to do
// with the world stopped.
func readStackMaps(pid int) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", liveTID(pid)))
	if err != nil {
		return nil, fmt.Errorf("reading maps of process %d: %w", pid, err)
	}
	defer f.Close()
	data := make([]byte, 0, 256<<10)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if n == 0 || err != nil {
			break
		}
	}
	var maps []mapping
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		var m mapping
		i := 0
		for ; i < len(line) && line[i] != '-'; i++ {
			m.start = m.start<<4 | uint64(unhex(line[i]))
		}
		for i++; i < len(line) && line[i] != ' '; i++ {
			m.end = m.end<<4 | uint64(unhex(line[i]))
		}
		if m.end > m.start {
			maps = append(maps, m)
		}
	}
	return maps, nil
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 0
}

// otherTracer returns the process tracing a thread of process pid, and its
// command name (a debugger, strace), or 0 when none is.
func otherTracer(pid int) (int, string) {
	tids, err := listTasks(pid)
	if err != nil {
		return 0, ""
	}
	for _, tid := range tids {
		if tp := tracerOf(pid, tid); tp > 0 {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", tp))
			return tp, strings.TrimSpace(string(comm))
		}
	}
	return 0, ""
}

// capSysPtrace is the bit of CAP_SYS_PTRACE in the capability sets.
const capSysPtrace = 19

// canTrace fails unless the engine holds CAP_SYS_PTRACE: it reads and
// writes other users' processes, and their /proc/PID/map_files.
func canTrace() error {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("reading own capabilities: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err == nil && caps&(1<<capSysPtrace) != 0 {
				return nil
			}
			break
		}
	}
	return errors.New("requires root (CAP_SYS_PTRACE)")
}
