package dwarfdec

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
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
	Data   *dwarf.Data // the DWARF, as debug/dwarf decodes it
	Sec    *Sections   // the sections Data decodes
	Path   string      // the file the DWARF was read from
	ef     *elf.File   // the file holding the DWARF
	closer io.Closer   // nil when the file is the library itself
}

// Close releases the sections and closes the separate debug file, if any.
func (f *File) Close() {
	f.Sec.release()
	if f.closer != nil {
		f.closer.Close()
	}
}

// TypeUnits returns where the type unit of each signature puts its type,
// for DW_FORM_ref_sig8 references (DWARF 5 type units in .debug_info).
func (f *File) TypeUnits() map[uint64]dwarf.Offset {
	return typeSignatures(f.Sec.Info, f.ef.ByteOrder)
}

// NewFile reads the DWARF sections of ef, whose bytes r holds.
func NewFile(ef *elf.File, r io.ReaderAt, path string) (*File, error) {
	sec, err := readDWARFSections(ef, r)
	if err != nil {
		return nil, fmt.Errorf("reading DWARF of %s: %w", path, err)
	}
	d, err := sec.data()
	if err != nil {
		sec.release()
		return nil, fmt.Errorf("reading DWARF of %s: %w", path, err)
	}
	return &File{Data: d, Sec: sec, Path: path, ef: ef}, nil
}

// Open returns the DWARF describing the library ef read from path
// (through r): its own sections when it has them, else those of its
// separate debug file. It returns nil when there is none.
func Open(ef *elf.File, r io.ReaderAt, path, buildID string, dirs []string) (*File, error) {
	if hasDebugInfo(ef) {
		return NewFile(ef, r, path)
	}
	if path == "" {
		return nil, nil
	}
	for _, cand := range debugFileCandidates(ef, path, buildID, dirs) {
		df, err := openDebugFile(cand.path, buildID, cand.crc, cand.checkCRC)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, errMismatch) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return df, nil
	}
	return nil, nil
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
	dirs = append(append([]string(nil), dirs...), DefaultDebugDir)
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
func openDebugFile(path, buildID string, crc uint32, checkCRC bool) (df *File, err error) {
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
	df, err = NewFile(ef, f, path)
	if err != nil {
		return nil, err
	}
	df.closer = f
	return df, nil
}

// typeSignatures walks the unit headers of .debug_info and returns, for
// each DWARF 5 type unit, the offset of the type it defines by signature.
func typeSignatures(data []byte, bo binary.ByteOrder) map[uint64]dwarf.Offset {
	sigs := make(map[uint64]dwarf.Offset)
	for off := uint64(0); off+4 <= uint64(len(data)); {
		start := off
		length, dwarf64 := uint64(bo.Uint32(data[off:])), false
		off += 4
		if length == 0xffffffff {
			if off+8 > uint64(len(data)) {
				break
			}
			length, dwarf64 = bo.Uint64(data[off:]), true
			off += 8
		}
		next := off + length
		if next < off || next > uint64(len(data)) || off+4 > next {
			break
		}
		version, unitType := bo.Uint16(data[off:]), data[off+2]
		if version >= 5 && (unitType == utType || unitType == utSplitType) {
			p := off + 4 // version, unit type, address size
			offSize := uint64(4)
			if dwarf64 {
				offSize = 8
			}
			p += offSize // debug_abbrev_offset
			if p+8+offSize <= next {
				sig := bo.Uint64(data[p:])
				var typeOff uint64
				if dwarf64 {
					typeOff = bo.Uint64(data[p+8:])
				} else {
					typeOff = uint64(bo.Uint32(data[p+8:]))
				}
				sigs[sig] = dwarf.Offset(start + typeOff)
			}
		}
		off = next
	}
	return sigs
}
