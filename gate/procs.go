package gate

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Process is a running process that maps a library.
type Process struct {
	PID int `json:"pid"`
	// Mapped are the matching files it maps (a process hot-upgraded
	// before maps several builds).
	Mapped []MappedFile `json:"mapped"`
}

// MappedFile is a file a process maps.
type MappedFile struct {
	// Path is the file's path as /proc/PID/maps shows it, without the
	// " (deleted)" suffix; Deleted says whether it had one.
	Path    string `json:"path"`
	Deleted bool   `json:"deleted,omitempty"`
	// BuildID is the build-id of the mapped file, read through
	// /proc/PID/map_files (so a replaced file reads as mapped); empty
	// when it cannot be read.
	BuildID string `json:"build_id,omitempty"`
}

// Maps returns the mapped file of the build buildID, if p maps it.
func (p Process) Maps(buildID string) (MappedFile, bool) {
	for _, m := range p.Mapped {
		if m.BuildID == buildID {
			return m, true
		}
	}
	return MappedFile{}, false
}

// FindProcesses returns, in PID order, the processes that map one of the
// files (matched by device and inode), or a file at one of paths whatever
// its build — typically a "(deleted)" mapping of a file since replaced.
// Processes that cannot be inspected (gone, or another user's) are skipped.
func FindProcesses(files, paths []string) ([]Process, error) {
	type devIno struct {
		major, minor uint32
		ino          uint64
	}
	inodes := map[devIno]bool{}
	for _, p := range files {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil {
			inodes[devIno{unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), uint64(st.Ino)}] = true
		}
	}
	named := map[string]bool{}
	for _, p := range paths {
		named[p] = true
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []Process
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		maps, err := readMaps(pid)
		if err != nil {
			continue
		}
		proc := Process{PID: pid}
		seen := map[devIno]bool{}
		for _, m := range maps {
			k := devIno{m.major, m.minor, m.inode}
			if seen[k] || (!inodes[k] && !named[m.path]) {
				continue
			}
			seen[k] = true
			proc.Mapped = append(proc.Mapped, MappedFile{Path: m.path, Deleted: m.deleted, BuildID: mappedBuildID(pid, m)})
		}
		if len(proc.Mapped) > 0 {
			out = append(out, proc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// mapping is one file-backed line of /proc/PID/maps.
type mapping struct {
	start, end   string // hex, as in the file
	major, minor uint32
	inode        uint64
	path         string
	deleted      bool
}

// readMaps reads the file-backed mappings of pid.
func readMaps(pid int) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.SplitN(sc.Text(), " ", 6)
		if len(fields) < 6 {
			continue
		}
		inode, _ := strconv.ParseUint(fields[4], 10, 64)
		path := strings.TrimLeft(fields[5], " ")
		if inode == 0 || !strings.HasPrefix(path, "/") {
			continue
		}
		m := mapping{inode: inode, path: path}
		m.start, m.end, _ = strings.Cut(fields[0], "-")
		ma, mi, _ := strings.Cut(fields[3], ":")
		x, _ := strconv.ParseUint(ma, 16, 32)
		y, _ := strconv.ParseUint(mi, 16, 32)
		m.major, m.minor = uint32(x), uint32(y)
		if p, ok := strings.CutSuffix(path, " (deleted)"); ok {
			m.path, m.deleted = p, true
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// mappedBuildID reads the build-id of the file behind m through
// /proc/PID/map_files; "" when it cannot.
func mappedBuildID(pid int, m mapping) string {
	f, err := elf.Open(fmt.Sprintf("/proc/%d/map_files/%s-%s", pid, m.start, m.end))
	if err != nil {
		return ""
	}
	defer f.Close()
	return buildID(f)
}

// Followers says which processes follow a library: every process that maps
// it, the processes of systemd units, and processes named by PID files.
type Followers struct {
	All      bool     `toml:"all" json:"all,omitempty"`
	Units    []string `toml:"units" json:"units,omitempty"`
	PIDFiles []string `toml:"pid_files" json:"pid_files,omitempty"`
}

// target returns how a restart entry names the process pid when it
// follows, and whether it follows at all. A unit or PID file naming it wins
// over All, so that a restart goes through the unit.
func (f Followers) target(pid int) (string, bool) {
	if len(f.Units) > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil {
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				cg := line[strings.LastIndexByte(line, ':')+1:]
				for _, u := range f.Units {
					if filepath.Base(cg) == u {
						return "unit=" + u, true
					}
				}
			}
		}
	}
	for _, pf := range f.PIDFiles {
		b, err := os.ReadFile(pf)
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n == pid {
			return "pidfile=" + pf, true
		}
	}
	return "pid=" + strconv.Itoa(pid), f.All
}
