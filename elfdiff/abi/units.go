package abi

// This file keeps what the reader needs to know about compilation units:
// their language, and the file names of their line tables.

import (
	"github.com/compatgate/compatgate/elfdiff/dwarfdec"

	"cmp"
	"debug/dwarf"
	"path"
	"slices"
	"sort"
	"strings"
)

// unitInfo is one compilation unit.
type unitInfo struct {
	off dwarf.Offset
	cxx bool // DW_AT_language is a C++ dialect
	// files are the line table's file names, unjoined to their
	// directories (aliasing the sections: the unit is dropped with its
	// reader), read on first use; joined are the names as debug/dwarf
	// joins them, read only for a name whose extension the join could
	// change.
	files  [][]byte
	joined []string
	read   bool
	// pinned says a type first decoded here is the copy others merge
	// into: the reader keeps the Types of the unit's DIEs to the end.
	pinned bool
	// ids number the line table's files in the reader's list of file
	// paths (0 for none), read on first use.
	ids     []uint32
	idsRead bool
}

// DWARF language codes of C++ dialects.
const (
	langCPlusPlus   = 0x04
	langCPlusPlus03 = 0x19
	langCPlusPlus11 = 0x1a
	langCPlusPlus14 = 0x21
)

// newUnitInfo returns the compilation unit whose DIE is at off, of
// language lang (DW_AT_language).
func newUnitInfo(off dwarf.Offset, lang int64) *unitInfo {
	cxx := lang == langCPlusPlus || lang == langCPlusPlus03 || lang == langCPlusPlus11 || lang == langCPlusPlus14
	return &unitInfo{off: off, cxx: cxx}
}

// offsetStrings maps DIE offsets to strings: appended in increasing
// offset order by the index pass, searched by binary search.
type offsetStrings struct {
	offs []dwarf.Offset
	vals []string
}

// add records v for off, which must be above every offset added before.
func (m *offsetStrings) add(off dwarf.Offset, v string) {
	m.offs = append(m.offs, off)
	m.vals = append(m.vals, v)
}

// sort restores the offset order after out-of-order additions.
func (m *offsetStrings) sort() {
	idx := make([]int, len(m.offs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(m.offs[a], m.offs[b]) })
	offs, vals := make([]dwarf.Offset, len(idx)), make([]string, len(idx))
	for i, j := range idx {
		offs[i], vals[i] = m.offs[j], m.vals[j]
	}
	m.offs, m.vals = offs, vals
}

// get returns the string recorded for off, or "".
func (m *offsetStrings) get(off dwarf.Offset) string {
	if i, ok := slices.BinarySearch(m.offs, off); ok {
		return m.vals[i]
	}
	return ""
}

// isMethod reports whether the subprogram DIE at off is declared inside a
// class.
func (dr *dwarfReader) isMethod(off dwarf.Offset) bool {
	_, ok := slices.BinarySearch(dr.methods, off)
	return ok
}

// unitOf returns the compilation unit holding the DIE at off, or nil.
func (dr *dwarfReader) unitOf(off dwarf.Offset) *unitInfo {
	// A comparison of two copies of a type goes back and forth between
	// their units: the last two found are looked at first.
	for k, r := range dr.recentUnits {
		if i := r - 1; i >= 0 && dr.units[i].off <= off && (i+1 == len(dr.units) || off < dr.units[i+1].off) {
			if k == 1 {
				dr.recentUnits[0], dr.recentUnits[1] = r, dr.recentUnits[0]
			}
			return dr.units[i]
		}
	}
	i := sort.Search(len(dr.units), func(i int) bool { return dr.units[i].off > off })
	if i == 0 {
		return nil
	}
	dr.recentUnits[0], dr.recentUnits[1] = i, dr.recentUnits[0]
	return dr.units[i-1]
}

// declaredInSource reports whether a DIE was declared (DW_AT_decl_file)
// in a C or C++ source file, not a header.
func (dr *dwarfReader) declaredInSource(e *dwarfdec.DIE) bool {
	n, ok := e.Int(dwarfdec.SlotDeclFile)
	u := dr.unitOf(e.Off)
	if !ok || u == nil || n < 0 {
		return false
	}
	files := dr.unitFiles(u)
	if n >= int64(len(files)) {
		return false
	}
	if name := files[n]; dwarfdec.ExtensionKnown(name) {
		return isSourceFile(string(name))
	}
	joined := dr.unitJoined(u)
	return n < int64(len(joined)) && isSourceFile(joined[n])
}

// unitFiles returns the file names of the line table of u, unjoined,
// reading them the first time.
func (dr *dwarfReader) unitFiles(u *unitInfo) [][]byte {
	if !u.read {
		u.read = true
		u.files = dr.lineFiles(u)
	}
	return u.files
}

// unitJoined returns the file names of the line table of u, joined to
// their directories, reading them the first time; the reading gives the
// unjoined names too, for unitFiles.
func (dr *dwarfReader) unitJoined(u *unitInfo) []string {
	if u.joined == nil {
		files, joined, err := dr.dies.JoinedLineFiles(u.off)
		u.joined = []string{} // none, or unreadable: empty, not nil
		if err == nil && joined != nil {
			u.joined = joined
			if !u.read {
				u.read, u.files = true, files
			}
		}
	}
	return u.joined
}

// IsSourceFile reports whether path names a C or C++ source file rather
// than a header: what is defined there is invisible to clients.
func IsSourceFile(path string) bool { return isSourceFile(path) }

// declFile returns the number of the file a DIE was declared in
// (DW_AT_decl_file) in the reader's list of file paths, counted from 1; 0
// when the DIE does not say.
func (dr *dwarfReader) declFile(e *dwarfdec.DIE) uint32 {
	n, ok := e.Int(dwarfdec.SlotDeclFile)
	u := dr.unitOf(e.Off)
	if !ok || u == nil || n < 0 {
		return 0
	}
	if !u.idsRead {
		u.idsRead = true
		// The names joined to their directories where debug/dwarf can read
		// the unit's line table, else (type units, dwz common files) as the
		// line table spells them.
		joined, files := dr.unitJoined(u), dr.unitFiles(u)
		u.ids = make([]uint32, max(len(joined), len(files)))
		for i := range u.ids {
			name := ""
			if i < len(joined) {
				name = joined[i]
			}
			if name == "" && i < len(files) {
				name = string(files[i])
			}
			if name == "" {
				continue
			}
			id, ok := dr.fileIDs[name]
			if !ok {
				dr.files = append(dr.files, name)
				id = uint32(len(dr.files))
				dr.fileIDs[name] = id
			}
			u.ids[i] = id
		}
	}
	if n >= int64(len(u.ids)) {
		return 0
	}
	return u.ids[n]
}

// lineFiles returns the file names of the line table of u, unjoined, or
// nil when it has none or it could not be read.
func (dr *dwarfReader) lineFiles(u *unitInfo) [][]byte {
	files, err := dr.dies.LineFiles(u.off)
	if err != nil {
		return nil
	}
	return files
}

// isSourceFile reports whether name is a C or C++ source file rather than
// a header: what is declared there is invisible to clients.
func isSourceFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".c", ".cc", ".cpp", ".cxx", ".c++", ".cp":
		return true
	}
	return false
}

// evictor gives back the pages of the units a reader moving forward
// through .debug_info has left (dwarfdec.Sections.Evict): everything
// below mark was read.
type evictor struct {
	sec  *dwarfdec.Sections
	mark uint64
}

// advance says the reader is now at off, and gives back the pages of the
// units between the mark and off. Moving back moves the mark only: the
// pages read again there are given back as the reader passes them.
func (e *evictor) advance(off uint64) {
	if off <= e.mark {
		e.mark = off
		return
	}
	e.mark = e.sec.Evict(e.mark, off)
}
