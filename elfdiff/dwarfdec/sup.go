package dwarfdec

// This file finds and reads supplementary debug files: the common file dwz
// -m writes for several libraries, named by .gnu_debugaltlink (or by a
// DWARF 5 .debug_sup section), whose DIEs and strings the library's DWARF
// refers to with DW_FORM_GNU_ref_alt and DW_FORM_GNU_strp_alt (DWARF 5:
// DW_FORM_ref_sup4/8, DW_FORM_strp_sup).

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compatgate/compatgate/elfdiff/elfsym"
)

// supLink returns the supplementary file ef names and its identity (hex:
// its build-id, or the checksum a DWARF 5 .debug_sup records; empty when
// the link records none), and false when ef names none.
func supLink(ef *elf.File) (name, id string, ok bool) {
	if s := ef.Section(".gnu_debugaltlink"); s != nil {
		data, err := s.Data()
		if err != nil {
			return "", "", false
		}
		i := bytes.IndexByte(data, 0)
		if i <= 0 {
			return "", "", false
		}
		return string(data[:i]), hex.EncodeToString(data[i+1:]), true
	}
	name, id, isSup, ok := debugSup(ef)
	if !ok || isSup {
		return "", "", false
	}
	return name, id, true
}

// debugSup reads the DWARF 5 .debug_sup section of ef: the supplementary
// file it names, its checksum (hex), and whether ef is itself a
// supplementary file.
func debugSup(ef *elf.File) (name, sum string, isSup, ok bool) {
	s := ef.Section(".debug_sup")
	if s == nil {
		return "", "", false, false
	}
	data, err := s.Data()
	if err != nil {
		return "", "", false, false
	}
	b := ScanBuf{Data: data, Order: ef.ByteOrder}
	version, flag := b.u16(), b.u8()
	file := b.cstring()
	sumBytes := b.bytes(b.uleb())
	if b.Err != nil || version != 5 || flag > 1 || (flag == 0 && len(file) == 0) {
		return "", "", false, false
	}
	return string(file), hex.EncodeToString(sumBytes), flag == 1, true
}

// supID returns the identity of a supplementary file: its build-id, else
// the checksum of its .debug_sup.
func supID(ef *elf.File) string {
	if id := elfsym.BuildID(ef); id != "" {
		return id
	}
	if _, sum, isSup, ok := debugSup(ef); ok && isSup {
		return sum
	}
	return ""
}

// supCandidates lists where the supplementary file name, with the given
// build-id, of the debug file at path may be, in GDB's order: the name as
// it is (relative names from the debug file's directory), by build-id
// under each debug root, and an altlink under DefaultDebugDir (/usr/lib/debug/.dwz/…)
// moved under each debug root.
func supCandidates(path, name, buildID string, roots []string) []string {
	var out []string
	if filepath.IsAbs(name) {
		out = append(out, name)
	} else if path != "" {
		out = append(out, filepath.Join(filepath.Dir(path), name))
	}
	if len(buildID) > 2 {
		for _, d := range roots {
			out = append(out, filepath.Join(d, ".build-id", buildID[:2], buildID[2:]+".debug"))
		}
	}
	if rest, ok := strings.CutPrefix(filepath.Clean(name), DefaultDebugDir+"/"); ok {
		for _, d := range roots {
			out = append(out, filepath.Join(d, rest))
		}
	}
	return out
}

// A supFile is an open supplementary file.
type supFile struct {
	f    *os.File
	ef   *elf.File
	path string
}

func (s *supFile) close() {
	if s != nil {
		s.f.Close()
	}
}

// openSup opens the supplementary file of ef (whose debug information is
// at path), found as s says. It returns nil when ef names none, and an
// error when it names one that cannot be found: without it, the DWARF
// cannot be read.
func openSup(ef *elf.File, path string, s Search) (*supFile, error) {
	name, id, ok := supLink(ef)
	if !ok {
		return nil, nil
	}
	if s.none {
		return nil, fmt.Errorf("supplementary debug file %s not looked for", name)
	}
	for _, cand := range supCandidates(path, name, id, s.roots()) {
		sf, err := openSupFile(cand, id)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, errMismatch) {
			continue
		}
		return sf, err
	}
	if s.Fetch != nil && id != "" {
		p, err := s.Fetch(id)
		if err != nil {
			return nil, fmt.Errorf("supplementary debug file %s: %w", name, err)
		}
		if p != "" {
			sf, err := openSupFile(p, id)
			if !errors.Is(err, errMismatch) {
				return sf, err
			}
		}
	}
	return nil, fmt.Errorf("supplementary debug file %s (build-id %s) not found", name, id)
}

// openSupFile opens the supplementary file at path, after checking its
// identity.
func openSupFile(path, id string) (sf *supFile, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if sf == nil {
			f.Close()
		}
	}()
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("supplementary debug file %s: %w", path, err)
	}
	if id != "" && supID(ef) != id {
		return nil, errMismatch
	}
	return &supFile{f: f, ef: ef, path: path}, nil
}
