package elfsym

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// A SymbolTable is an ELF symbol table (.dynsym or .symtab) held as the
// bytes of its section and one copy of its string table. Entries are
// decoded when they are read, and their names are substrings of the string
// table: a table of 50,000 symbols costs its two sections, where
// debug/elf's Symbols allocates every name and a decoded slice besides.
type SymbolTable struct {
	entries []byte // entry 0, the null symbol, included
	size    int    // bytes per entry
	// Strings is the string table the names are in.
	Strings string
	// names, once the table is detached, are the entries' names in
	// place of strs (see detach).
	names []string
	Link  uint32 // Link is the section index of the string table
	bo    binary.ByteOrder
	class elf.Class
	// versym is .gnu.version: an elf.VersionIndex per entry; versions
	// names the indices (.gnu.version_d and .gnu.version_r). Both are
	// empty for .symtab and for unversioned libraries.
	versym   []byte
	versions map[uint16]string
	// Defs are the version definitions (.gnu.version_d), the library's
	// own version nodes.
	Defs []VersionDef
}

// A RawSymbol is one decoded entry of a SymbolTable.
type RawSymbol struct {
	Name        string
	NameOff     uint32 // st_name: Name's offset in the string table
	Info, Other byte
	Section     elf.SectionIndex
	Value, Size uint64
}

// ReadSymbolTable reads the symbol table of the given type (SHT_DYNSYM or
// SHT_SYMTAB); nil when the library has none.
func ReadSymbolTable(ef *elf.File, typ elf.SectionType) (*SymbolTable, error) {
	sec := ef.SectionByType(typ)
	if sec == nil {
		return nil, nil
	}
	t := &SymbolTable{bo: ef.ByteOrder, class: ef.Class, size: elf.Sym64Size}
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
	t.Link = sec.Link
	if t.Strings, err = sectionString(ef.Sections[sec.Link]); err != nil {
		return nil, fmt.Errorf("reading %s's string table: %w", sec.Name, err)
	}
	if typ == elf.SHT_DYNSYM {
		if err := t.readVersions(ef); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// readVersions reads .gnu.version and the names of its indices from
// .gnu.version_d and .gnu.version_r. They are parsed here rather than by
// debug/elf, whose DynamicVersions decodes the whole symbol table first.
func (t *SymbolTable) readVersions(ef *elf.File) error {
	var err error
	if t.Defs, err = readVersionDefs(ef, t.Strings); err != nil {
		return err
	}
	vs := ef.SectionByType(elf.SHT_GNU_VERSYM)
	if vs == nil {
		return nil
	}
	if t.versym, err = vs.Data(); err != nil {
		return fmt.Errorf("reading %s: %w", vs.Name, err)
	}
	t.versions = make(map[uint16]string)
	for _, d := range t.Defs {
		t.versions[d.index] = d.Name
	}
	// A required version wins over a defined one with the same index, as
	// in debug/elf.
	return readVersionNeeds(ef, t.Strings, func(index uint16, name string) { t.versions[index] = name })
}

// A VersionDef is an entry of .gnu.version_d.
type VersionDef struct {
	// index is the vd_ndx of the node; Flags its vd_flags and Name its name.
	index uint16
	Flags elf.DynamicVersionFlag
	Name  string
}

// maxVersionEntries bounds the version entries read, so that a cycle of
// next offsets in a corrupt file ends.
const maxVersionEntries = 1 << 16

// readVersionDefs returns the version definitions (Elf_Verdef, each named
// by its first Elf_Verdaux), with names from strs, the dynamic string
// table; none when the library defines no versions.
func readVersionDefs(ef *elf.File, strs string) ([]VersionDef, error) {
	sec := ef.SectionByType(elf.SHT_GNU_VERDEF)
	if sec == nil {
		return nil, nil
	}
	d, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", sec.Name, err)
	}
	bo := ef.ByteOrder
	var out []VersionDef
	for off, n := 0, 0; n < maxVersionEntries; n++ {
		if off < 0 || off+20 > len(d) {
			return nil, fmt.Errorf("%s: entry at %d out of bounds", sec.Name, off)
		}
		e := d[off:]
		flags, index := bo.Uint16(e[2:]), bo.Uint16(e[4:])
		aux, next := int(bo.Uint32(e[12:])), int(bo.Uint32(e[16:]))
		if aux < 0 || off+aux+8 > len(d) {
			return nil, fmt.Errorf("%s: auxiliary entry at %d out of bounds", sec.Name, off+aux)
		}
		name, ok := TableString(strs, bo.Uint32(d[off+aux:]))
		if !ok {
			return nil, fmt.Errorf("%s: bad version name offset", sec.Name)
		}
		out = append(out, VersionDef{index: index, Flags: elf.DynamicVersionFlag(flags), Name: name})
		if next == 0 {
			return out, nil
		}
		off += next
	}
	return nil, fmt.Errorf("%s: more than %d entries", sec.Name, maxVersionEntries)
}

// readVersionNeeds calls f with the index and name of each version the
// library requires from another (Elf_Vernaux of each Elf_Verneed).
func readVersionNeeds(ef *elf.File, strs string, f func(index uint16, name string)) error {
	sec := ef.SectionByType(elf.SHT_GNU_VERNEED)
	if sec == nil {
		return nil
	}
	d, err := sec.Data()
	if err != nil {
		return fmt.Errorf("reading %s: %w", sec.Name, err)
	}
	bo := ef.ByteOrder
	n := 0
	for off := 0; ; n++ {
		if n >= maxVersionEntries || off < 0 || off+16 > len(d) {
			return fmt.Errorf("%s: entry at %d out of bounds", sec.Name, off)
		}
		e := d[off:]
		aux, next := int(bo.Uint32(e[8:])), int(bo.Uint32(e[12:]))
		for a := off + aux; ; n++ {
			if n >= maxVersionEntries || a < 0 || a+16 > len(d) {
				return fmt.Errorf("%s: auxiliary entry at %d out of bounds", sec.Name, a)
			}
			x := d[a:]
			name, ok := TableString(strs, bo.Uint32(x[8:]))
			if !ok {
				return fmt.Errorf("%s: bad version name offset", sec.Name)
			}
			f(bo.Uint16(x[6:]), name)
			anext := int(bo.Uint32(x[12:]))
			if anext == 0 {
				break
			}
			a += anext
		}
		if next == 0 {
			return nil
		}
		off += next
	}
}

// TableString returns the NUL-terminated string at off in a string table.
func TableString(strs string, off uint32) (string, bool) {
	if int64(off) >= int64(len(strs)) {
		return "", false
	}
	end := strings.IndexByte(strs[off:], 0)
	if end < 0 {
		return "", false
	}
	return strs[off : int(off)+end], true
}

// maxPresize bounds the memory reserved for a section from its declared
// size, which a corrupt file may inflate.
const maxPresize = 64 << 20

// sectionString returns the contents of sec as a string, read into one
// buffer: no []byte copy to convert.
func sectionString(sec *elf.Section) (string, error) {
	var b strings.Builder
	b.Grow(int(min(sec.Size, maxPresize)))
	if _, err := io.Copy(&b, sec.Open()); err != nil {
		return "", err
	}
	if sec.Flags&elf.SHF_COMPRESSED == 0 && uint64(b.Len()) != sec.Size {
		return "", io.ErrUnexpectedEOF
	}
	return b.String(), nil
}

// Len returns the number of entries, the null entry 0 included.
func (t *SymbolTable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries) / t.size
}

// At decodes entry i, 0 ≤ i < Len.
func (t *SymbolTable) At(i int) RawSymbol {
	e := t.entries[i*t.size : (i+1)*t.size]
	var s RawSymbol
	name := t.bo.Uint32(e)
	s.NameOff = name
	if t.class == elf.ELFCLASS32 {
		s.Value, s.Size = uint64(t.bo.Uint32(e[4:])), uint64(t.bo.Uint32(e[8:]))
		s.Info, s.Other, s.Section = e[12], e[13], elf.SectionIndex(t.bo.Uint16(e[14:]))
	} else {
		s.Info, s.Other, s.Section = e[4], e[5], elf.SectionIndex(t.bo.Uint16(e[6:]))
		s.Value, s.Size = t.bo.Uint64(e[8:]), t.bo.Uint64(e[16:])
	}
	if t.names != nil {
		s.Name = t.names[i]
		return s
	}
	// A name without its terminating NUL is read as empty, as by
	// debug/elf.
	s.Name, _ = TableString(t.Strings, name)
	return s
}

// Detach makes the table hold each entry's name as intern gives it, and
// no longer its string table: a library loaded beside another version
// then keeps the other's copy of the names both have, and the megabytes
// of its own string table are free while the rest of it is read.
func (t *SymbolTable) Detach(intern func(string) string) {
	if t == nil {
		return // no .dynsym
	}
	t.names = make([]string, t.Len())
	for i := 1; i < t.Len(); i++ {
		if name, _ := TableString(t.Strings, t.bo.Uint32(t.entries[i*t.size:])); name != "" {
			t.names[i] = intern(name)
		}
	}
	for ndx, v := range t.versions {
		t.versions[ndx] = strings.Clone(v)
	}
	for i := range t.Defs {
		t.Defs[i].Name = strings.Clone(t.Defs[i].Name)
	}
	t.Strings = ""
}

// Version returns the version index of entry i and the name of its
// version; ok is false when the table has no version for it.
func (t *SymbolTable) Version(i int) (vi elf.VersionIndex, name string, ok bool) {
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
