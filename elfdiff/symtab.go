package elfdiff

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// A symbolTable is an ELF symbol table (.dynsym or .symtab) held as the
// bytes of its section and one copy of its string table. Entries are
// decoded when they are read, and their names are substrings of the string
// table: a table of 50,000 symbols costs its two sections, where
// debug/elf's Symbols allocates every name and a decoded slice besides.
type symbolTable struct {
	entries []byte // entry 0, the null symbol, included
	size    int    // bytes per entry
	strs    string
	bo      binary.ByteOrder
	class   elf.Class
	// versym is .gnu.version: an elf.VersionIndex per entry; versions
	// names the indices (.gnu.version_d and .gnu.version_r). Both are
	// empty for .symtab and for unversioned libraries.
	versym   []byte
	versions map[uint16]string
}

// A rawSymbol is one decoded entry of a symbolTable.
type rawSymbol struct {
	Name        string
	Info, Other byte
	Section     elf.SectionIndex
	Value, Size uint64
}

// readSymbolTable reads the symbol table of the given type (SHT_DYNSYM or
// SHT_SYMTAB); nil when the library has none.
func readSymbolTable(ef *elf.File, typ elf.SectionType) (*symbolTable, error) {
	sec := ef.SectionByType(typ)
	if sec == nil {
		return nil, nil
	}
	t := &symbolTable{bo: ef.ByteOrder, class: ef.Class, size: elf.Sym64Size}
	if ef.Class == elf.ELFCLASS32 {
		t.size = elf.Sym32Size
	}
	var err error
	if t.entries, err = sec.Data(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", sec.Name, err)
	}
	if len(t.entries)%t.size != 0 {
		return nil, fmt.Errorf("%s: size %d is not a multiple of the entry size %d", sec.Name, len(t.entries), t.size)
	}
	if sec.Link == 0 || int(sec.Link) >= len(ef.Sections) {
		return nil, fmt.Errorf("%s: invalid string table link %d", sec.Name, sec.Link)
	}
	strs, err := ef.Sections[sec.Link].Data()
	if err != nil {
		return nil, fmt.Errorf("reading %s's string table: %w", sec.Name, err)
	}
	t.strs = string(strs)
	if typ == elf.SHT_DYNSYM {
		if err := t.readVersions(ef); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// readVersions reads .gnu.version and the names of its indices.
func (t *symbolTable) readVersions(ef *elf.File) error {
	vs := ef.SectionByType(elf.SHT_GNU_VERSYM)
	if vs == nil {
		return nil
	}
	var err error
	if t.versym, err = vs.Data(); err != nil {
		return fmt.Errorf("reading %s: %w", vs.Name, err)
	}
	t.versions = make(map[uint16]string)
	if ef.SectionByType(elf.SHT_GNU_VERDEF) != nil {
		defs, err := ef.DynamicVersions()
		if err != nil {
			return fmt.Errorf("version definitions: %w", err)
		}
		for _, d := range defs {
			t.versions[d.Index] = d.Name
		}
	}
	if ef.SectionByType(elf.SHT_GNU_VERNEED) != nil {
		needs, err := ef.DynamicVersionNeeds()
		if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
			return fmt.Errorf("version requirements: %w", err)
		}
		// A required version wins over a defined one with the same index,
		// as in debug/elf.
		for _, n := range needs {
			for _, d := range n.Needs {
				t.versions[d.Index] = d.Dep
			}
		}
	}
	return nil
}

// Len returns the number of entries, the null entry 0 included.
func (t *symbolTable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries) / t.size
}

// At decodes entry i, 0 ≤ i < Len.
func (t *symbolTable) At(i int) rawSymbol {
	e := t.entries[i*t.size : (i+1)*t.size]
	var s rawSymbol
	var name uint32
	if t.class == elf.ELFCLASS32 {
		name = t.bo.Uint32(e)
		s.Value, s.Size = uint64(t.bo.Uint32(e[4:])), uint64(t.bo.Uint32(e[8:]))
		s.Info, s.Other, s.Section = e[12], e[13], elf.SectionIndex(t.bo.Uint16(e[14:]))
	} else {
		name = t.bo.Uint32(e)
		s.Info, s.Other, s.Section = e[4], e[5], elf.SectionIndex(t.bo.Uint16(e[6:]))
		s.Value, s.Size = t.bo.Uint64(e[8:]), t.bo.Uint64(e[16:])
	}
	if int64(name) < int64(len(t.strs)) {
		// A name without its terminating NUL is read as empty, as by
		// debug/elf.
		if end := strings.IndexByte(t.strs[name:], 0); end >= 0 {
			s.Name = t.strs[name : int(name)+end]
		}
	}
	return s
}

// Version returns the version index of entry i and the name of its
// version; ok is false when the table has no version for it.
func (t *symbolTable) Version(i int) (vi elf.VersionIndex, name string, ok bool) {
	if 2*i+2 > len(t.versym) {
		return 0, "", false
	}
	vi = elf.VersionIndex(t.bo.Uint16(t.versym[2*i:]))
	if ndx := vi.Index(); ndx > 1 { // 0 local, 1 global (unversioned)
		if name, ok = t.versions[ndx]; !ok {
			return 0, "", false
		}
	}
	return vi, name, true
}
