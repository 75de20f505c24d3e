//go:build linux && amd64

package inject

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Generation states in the journal.
const (
	genApplying  = "applying"  // writes may be partly done: revert restores per word
	genApplied   = "applied"   // every write done and verified
	genReverting = "reverting" // restores may be partly done
)

// journal is the record of the upgrades applied to one process, stored as
// <state-dir>/pid-<PID>-<START>.json. START, the process start time, tells
// a reused PID from the process the journal was written for.
type journal struct {
	Schema      int          `json:"schema"`
	PID         int          `json:"pid"`
	StartTime   uint64       `json:"start_time"`
	Generations []generation `json:"generations"`

	path string
}

// generation is one apply: every word written and the trampoline pages.
type generation struct {
	State       string      `json:"state"`
	Time        time.Time   `json:"time"`
	Old         Library     `json:"old"`
	New         Library     `json:"new"`
	NewHandle   uint64      `json:"new_handle"`
	Functions   []string    `json:"functions"`
	Trampolines []uint64    `json:"trampolines"` // page addresses
	Writes      []wordWrite `json:"writes"`
	// OverEndbr lists the functions whose jump was written over their
	// endbr64 because no trampoline page fitted the window needed to keep it.
	OverEndbr []string `json:"over_endbr64,omitempty"`
	// Pads lists the run-time addresses of the jumps written into padding
	// for entries redirected through a short jump (see pad.go).
	Pads []uint64 `json:"pads,omitempty"`
	// ViaGOT lists the functions whose entry could not take a jump,
	// redirected through the GOTs of the objects importing them instead.
	ViaGOT []string `json:"via_got,omitempty"`
	// Draining is the number of threads inside OLD at the switch (drain
	// model), Undrained how many were still inside it when the engine
	// last looked, at DrainChecked.
	Draining     int       `json:"draining,omitempty"`
	Undrained    int       `json:"undrained,omitempty"`
	DrainChecked time.Time `json:"drain_checked,omitzero"`
}

// wordWrite is one aligned 8-byte word of the target's text.
type wordWrite struct {
	Addr    uint64   `json:"addr"`
	Old     hexWord  `json:"old"`
	New     hexWord  `json:"new"`
	Symbols []string `json:"symbols"`
	// Pad is true for a word holding only padding bytes (see pad.go):
	// written before the entries' words, restored after them.
	Pad bool `json:"pad,omitempty"`
	// GOT is true for a word of another object's GOT, or a data pointer,
	// holding the address of a function redirected through it (got.go).
	GOT bool `json:"got,omitempty"`
}

// hexWord is 8 bytes, in JSON as 16 hex digits in memory order.
type hexWord [8]byte

func (w hexWord) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(w[:])), nil }

func (w *hexWord) UnmarshalText(b []byte) error {
	d, err := hex.DecodeString(string(b))
	if err != nil || len(d) != 8 {
		return fmt.Errorf("bad journal word %q", b)
	}
	copy(w[:], d)
	return nil
}

func journalPath(dir string, pid int, start uint64) string {
	return filepath.Join(dir, fmt.Sprintf("pid-%d-%d.json", pid, start))
}

// loadJournal reads the journal of (pid, start), or returns an empty one.
func loadJournal(dir string, pid int, start uint64) (*journal, error) {
	j := &journal{Schema: 1, PID: pid, StartTime: start, path: journalPath(dir, pid, start)}
	data, err := os.ReadFile(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading journal: %w", err)
	}
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("reading journal %s: %w", j.path, err)
	}
	if j.PID != pid || j.StartTime != start {
		return nil, fmt.Errorf("journal %s is for another process", j.path)
	}
	return j, nil
}

// save writes the journal durably: a temporary file, fsync, rename over the
// old one, fsync of the directory. When it returns nil the record survives
// a crash of the engine or of the machine.
func (j *journal) save() error {
	dir := filepath.Dir(j.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}
	if len(j.Generations) == 0 {
		if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing journal: %w", err)
		}
		return syncDir(dir)
	}
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding journal: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".journal-*")
	if err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing journal: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing journal: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	if err := os.Rename(tmp.Name(), j.path); err != nil {
		return fmt.Errorf("installing journal: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing state directory: %w", err)
	}
	return nil
}

// top returns the index of the latest generation whose OLD has build-id id,
// or -1.
func (j *journal) top(oldID string) int {
	for i := len(j.Generations) - 1; i >= 0; i-- {
		if j.Generations[i].Old.BuildID == oldID {
			return i
		}
	}
	return -1
}

// lockProcess takes an exclusive lock on the journal of process pid for the
// time of one operation, so that two engines never interleave their
// reads and writes of it. It fails at once if the lock is taken.
func lockProcess(dir string, pid int) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("pid-%d.lock", pid)), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the journal: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("another compatgate operation on process %d is in progress", pid)
		}
		return nil, fmt.Errorf("locking the journal: %w", err)
	}
	return func() { f.Close() }, nil
}

// staleTemp is the age after which a temporary journal file is an orphan
// of a crashed engine (save takes milliseconds).
const staleTemp = time.Minute

// cleanStateDir removes what no operation will ever read again: journals
// of processes that have exited (pid-PID-START.json whose process is gone
// or has another start time: a reused PID), their lock files when no
// operation holds them, and temporary journal files a crashed engine left.
// It is best effort: errors are ignored.
func cleanStateDir(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(dir, name)
		var pid int
		var start uint64
		switch {
		case strings.HasPrefix(name, ".journal-"):
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
				os.Remove(path)
			}
		case matchf(name, "pid-%d-%d.json", &pid, &start):
			if st, err := processStartTime(pid); err != nil || st != start {
				os.Remove(path)
			}
		case matchf(name, "pid-%d.lock", &pid):
			if _, err := processStartTime(pid); err == nil {
				continue
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				continue
			}
			if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
				os.Remove(path)
			}
			f.Close()
		}
	}
}

// matchf reports whether name is exactly format with args filled in.
func matchf(name, format string, args ...any) bool {
	if _, err := fmt.Sscanf(name, format, args...); err != nil {
		return false
	}
	vals := make([]any, len(args))
	for i, a := range args {
		switch p := a.(type) {
		case *int:
			vals[i] = *p
		case *uint64:
			vals[i] = *p
		}
	}
	return fmt.Sprintf(format, vals...) == name
}
