package dwarfdec

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/compatgate/compatgate/elfdiff/elfsym"
)

// DefaultDebugDir is where distributions install separate debug files.
const DefaultDebugDir = "/usr/lib/debug"

// A File is the DWARF of a library and where it came from. Close it
// when done: it may hold a separate debug file open.
type File struct {
	Sec     *Sections // the DWARF sections, and those of the supplementary file
	Path    string    // the file the DWARF was read from
	Fetched bool      // Path was fetched by Search.Fetch
	closer  io.Closer // nil when the file is the library itself
}

// Search says where separate debug files are looked for, besides the
// library's own directory and DefaultDebugDir.
type Search struct {
	// Dirs are debug roots searched before DefaultDebugDir, as GDB's
	// debug-file-directory: DIR/.build-id/xx/rest.debug,
	// DIR/<library's directory>/<debuglink>, DIR/<debuglink>, and for
	// supplementary files DIR/.dwz/… for an altlink under
	// /usr/lib/debug/.dwz.
	Dirs []string
	// Fetch, when set, is asked for a debug file by build-id (hex) when
	// none is found in the directories: it returns the file's path, or ""
	// when nobody has it.
	Fetch func(buildID string) (string, error)
	// none says to look for no file at all (a library read from memory).
	none bool
}

// roots returns the debug roots in search order.
func (s Search) roots() []string {
	return append(append([]string(nil), s.Dirs...), DefaultDebugDir)
}

// Close releases the sections and closes the separate debug file, if any.
func (f *File) Close() {
	f.Sec.release()
	if f.closer != nil {
		f.closer.Close()
	}
}

// DWARF returns the DWARF of the file (not of its supplementary file) as
// debug/dwarf decodes it, .debug_types included. Making it reads every
// unit's header: the checker reads DIEs with an EntryReader instead.
func (f *File) DWARF() (*dwarf.Data, error) {
	f.Sec.ensureSegs()
	return f.Sec.dwarfData(f.Sec.Info[:f.Sec.segEnd(&f.Sec.segs[0])], true)
}

// NewFile reads the DWARF sections of ef, whose bytes r holds, and those
// of its supplementary file, if it names one, found next to path or in
// DefaultDebugDir.
func NewFile(ef *elf.File, r io.ReaderAt, path string) (*File, error) {
	return newFile(ef, r, path, Search{})
}

// newFile reads the DWARF sections of ef, whose bytes r holds, and those
// of its supplementary file, found as s says.
func newFile(ef *elf.File, r io.ReaderAt, path string, s Search) (*File, error) {
	sup, err := openSup(ef, path, s)
	if err != nil {
		return nil, err
	}
	defer sup.close()
	// The units of the file and of its supplementary file are read
	// into one buffer, where Sections.layout wants them.
	mainSize, hasTypes, ok := unitsSize(ef)
	total := mainSize
	if sup != nil {
		n, _, supOK := unitsSize(sup.ef)
		total, ok = total+n, ok && supOK
	}
	var units, mainUnits, supUnits []byte
	var release func()
	if ok && (sup != nil || hasTypes) {
		units, release = offHeap(total)
		mainUnits, supUnits = units[:mainSize:mainSize], units[mainSize:]
	}
	fail := func(err error) (*File, error) {
		if release != nil {
			release()
		}
		return nil, err
	}
	sec, err := readDWARFSections(ef, r, mainUnits)
	if err != nil {
		return fail(fmt.Errorf("reading DWARF of %s: %w", path, err))
	}
	var supSec *Sections
	if sup != nil {
		if supSec, err = readDWARFSections(sup.ef, sup.f, supUnits); err != nil {
			sec.release()
			return fail(fmt.Errorf("reading DWARF of %s: %w", sup.path, err))
		}
	}
	sec.layout(supSec, units, release)
	return &File{Sec: sec, Path: path}, nil
}

// Open returns the DWARF describing the library ef read from path
// (through r): its own sections when it has them, else those of its
// separate debug file, found as s says. It returns nil when there is
// none. Without a path, no other file is looked for.
func Open(ef *elf.File, r io.ReaderAt, path, buildID string, s Search) (*File, error) {
	if path == "" {
		s = Search{none: true}
	}
	if hasDebugInfo(ef) {
		return newFile(ef, r, path, s)
	}
	if path == "" {
		return nil, nil
	}
	for _, cand := range debugFileCandidates(ef, path, buildID, s.roots()) {
		df, err := openDebugFile(cand.path, buildID, cand.crc, cand.checkCRC, s)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, errMismatch) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return df, nil
	}
	if s.Fetch == nil || buildID == "" {
		return nil, nil
	}
	p, err := s.Fetch(buildID)
	if err != nil || p == "" {
		return nil, err
	}
	df, err := openDebugFile(p, buildID, 0, false, s)
	if errors.Is(err, errMismatch) {
		return nil, fmt.Errorf("fetched debug file %s does not match the library", p)
	}
	if err != nil {
		return nil, err
	}
	df.Fetched = true
	return df, nil
}

// hasDebugInfo reports whether ef carries a .debug_info section with
// contents (compressed or not).
func hasDebugInfo(ef *elf.File) bool {
	for _, name := range []string{".debug_info", ".zdebug_info"} {
		if s := ef.Section(name); s != nil && s.Type != elf.SHT_NOBITS && s.Size > 0 {
			return true
		}
	}
	return false
}

type debugCandidate struct {
	path     string
	crc      uint32
	checkCRC bool
}

// debugFileCandidates lists, in GDB's order, where the separate debug file
// of path may be.
func debugFileCandidates(ef *elf.File, path, buildID string, dirs []string) []debugCandidate {
	var out []debugCandidate
	if len(buildID) > 2 {
		for _, d := range dirs {
			out = append(out, debugCandidate{path: filepath.Join(d, ".build-id", buildID[:2], buildID[2:]+".debug")})
		}
	}
	name, crc, ok := debugLink(ef)
	if !ok {
		return out
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	libDir := filepath.Dir(abs)
	out = append(out,
		debugCandidate{path: filepath.Join(libDir, name), crc: crc, checkCRC: true},
		debugCandidate{path: filepath.Join(libDir, ".debug", name), crc: crc, checkCRC: true})
	for _, d := range dirs {
		out = append(out,
			debugCandidate{path: filepath.Join(d, libDir, name), crc: crc, checkCRC: true},
			debugCandidate{path: filepath.Join(d, name), crc: crc, checkCRC: true})
	}
	// The library itself may be named like its debug link target.
	filtered := out[:0]
	for _, c := range out {
		if c.path != abs {
			filtered = append(filtered, c)
		}
	}
	return filtered
}

// debugLink returns the file name and CRC of .gnu_debuglink.
func debugLink(ef *elf.File) (string, uint32, bool) {
	s := ef.Section(".gnu_debuglink")
	if s == nil {
		return "", 0, false
	}
	data, err := s.Data()
	if err != nil {
		return "", 0, false
	}
	i := bytes.IndexByte(data, 0)
	if i <= 0 {
		return "", 0, false
	}
	name := string(data[:i])
	off := (i + 4) &^ 3
	if off+4 > len(data) || filepath.Base(name) != name {
		return "", 0, false
	}
	return name, ef.ByteOrder.Uint32(data[off:]), true
}

// errMismatch says a candidate debug file belongs to another build.
var errMismatch = errors.New("debug file does not match the library")

// openDebugFile opens a candidate debug file and returns its DWARF, after
// checking it belongs to the library: same build-id, or the CRC the debug
// link records.
func openDebugFile(path, buildID string, crc uint32, checkCRC bool, s Search) (df *File, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if df == nil {
			f.Close()
		}
	}()
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("debug file %s: %w", path, err)
	}
	if id := elfsym.BuildID(ef); buildID != "" && id != "" {
		if id != buildID {
			return nil, errMismatch
		}
	} else if checkCRC {
		h := crc32.NewIEEE()
		if _, err := f.Seek(0, 0); err != nil {
			return nil, err
		}
		if _, err := io.Copy(h, f); err != nil {
			return nil, fmt.Errorf("debug file %s: %w", path, err)
		}
		if h.Sum32() != crc {
			return nil, errMismatch
		}
	}
	if !hasDebugInfo(ef) {
		return nil, errMismatch
	}
	df, err = newFile(ef, f, path, s)
	if err != nil {
		return nil, err
	}
	df.closer = f
	return df, nil
}
