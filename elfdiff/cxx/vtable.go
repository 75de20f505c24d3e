package cxx

import (
	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"cmp"
	"debug/elf"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// A VTable is the contents of an exported virtual table (_ZTV…), read from
// the section data and the dynamic relocations — no debug information
// needed. A vtable group holds the primary vtable and one secondary vtable
// per base subobject that needs one (Itanium C++ ABI §2.5.2).
type VTable struct {
	Symbol string // the _ZTV symbol's name, without version
	Class  string // the demangled class name
	Size   uint64 // the symbol's size in bytes
	Tables []SubTable
	// Err says why the table could not be read completely; Tables then
	// holds what was read.
	Err string
}

// A SubTable is one vtable of a vtable group.
type SubTable struct {
	// Offsets are the virtual-call and virtual-base offsets that precede
	// offset-to-top, in memory order.
	Offsets []int64
	// OffsetToTop is the displacement from this subobject to the top of
	// the complete object: 0 for the primary vtable, negative for the
	// others.
	OffsetToTop int64
	// RTTI is the typeinfo symbol the table points to; empty when the
	// class was compiled without RTTI.
	RTTI  string
	Slots []Slot
}

// A Slot is one virtual-function pointer.
type Slot struct {
	// Target is the symbol the slot points to: a method, a thunk,
	// __cxa_pure_virtual or __cxa_deleted_virtual. Empty when no symbol
	// names the target (a local function in a stripped library).
	Target string
	// Addr is the target's address in the library, for relative
	// relocations; 0 for symbolic ones.
	Addr uint64
}

// maxVTableSize bounds the vtables read, so a corrupt size cannot make the
// loader allocate without limit.
const maxVTableSize = 1 << 20

// relocation types, per machine, that fill a pointer-sized word.
type relocKinds struct{ abs, globDat, relative uint32 }

func relocKindsFor(m elf.Machine) (relocKinds, bool) {
	switch m {
	case elf.EM_X86_64:
		return relocKinds{uint32(elf.R_X86_64_64), uint32(elf.R_X86_64_GLOB_DAT), uint32(elf.R_X86_64_RELATIVE)}, true
	case elf.EM_AARCH64:
		return relocKinds{uint32(elf.R_AARCH64_ABS64), uint32(elf.R_AARCH64_GLOB_DAT), uint32(elf.R_AARCH64_RELATIVE)}, true
	}
	return relocKinds{}, false
}

// A reloc is a resolved dynamic relocation of one word.
type reloc struct {
	off    uint64 // the address of the word
	sym    string // symbolic target, or ""
	addend int64  // added to the symbol's address
	addr   uint64 // relative target address
}

// relocs are the relocations of words, sorted by address: 40 bytes each,
// where a map would take twice as much for the tens of thousands of
// vtable slots of a big C++ library.
type relocs []reloc

// at returns the relocation of the word at address a.
func (rs relocs) at(a uint64) (reloc, bool) {
	i, ok := slices.BinarySearchFunc(rs, a, func(r reloc, a uint64) int { return cmp.Compare(r.off, a) })
	if !ok {
		return reloc{}, false
	}
	return rs[i], true
}

// Tables are the C++ run-time tables a library exports — virtual
// tables and typeinfo objects — read from its sections and dynamic
// relocations, so that they are known without debug information.
type Tables struct {
	// The tables by symbol name, without version: versions of a
	// library that version every symbol by release still have the same
	// classes. Of a name exported in several versions, the one spelled
	// first (Symbol.String) is read.
	VTables  map[string]*VTable   // _ZTV…
	Typeinfo map[string]*Typeinfo // _ZTI…
}

// ReadTables reads every exported _ZTV and _ZTI object of a 64-bit
// library whose relocations it understands (x86-64, AArch64). It never
// fails: a table that cannot be read carries its reason in Err, and a
// library it cannot read at all yields nil and a note. dyn and local are
// the library's .dynsym and .symtab, which name the targets of relocated
// slots.
// The tables name their targets with the strings intern gives (see
// interner), never with a part of a whole string table, which they would
// keep in memory.
func ReadTables(ef *elf.File, syms *elfsym.SymbolList, dyn, local *elfsym.SymbolTable, base *Tables, intern func(string) string) (tables *Tables, note string) {
	var objs []elfsym.Symbol
	for _, s := range syms.All() {
		if (strings.HasPrefix(s.Name, "_ZTV") || strings.HasPrefix(s.Name, "_ZTI")) && s.Type == elf.STT_OBJECT {
			// Of the versions of one name (all next to each other), the
			// one spelled first: the default version, if any.
			if n := len(objs); n > 0 && objs[n-1].Name == s.Name {
				if s.String() < objs[n-1].String() {
					objs[n-1] = s
				}
				continue
			}
			objs = append(objs, s)
		}
	}
	if len(objs) == 0 {
		return nil, ""
	}
	kinds, ok := relocKindsFor(ef.Machine)
	if !ok || ef.Class != elf.ELFCLASS64 {
		return nil, fmt.Sprintf("virtual tables and typeinfo not read: %s relocations are not supported", ef.Machine)
	}
	relocs, err := objectRelocs(ef, objs, dyn, kinds, intern)
	if err != nil {
		return nil, fmt.Sprintf("virtual tables and typeinfo not read: %v", err)
	}
	names := addressNames(dyn, local, relocs, intern)
	classes := newClassNames(base)
	tables = &Tables{VTables: make(map[string]*VTable), Typeinfo: make(map[string]*Typeinfo)}
	for _, s := range objs {
		class := classes.of(s.Name)
		words, err := readWords(ef, s.Value, s.Size)
		if strings.HasPrefix(s.Name, "_ZTI") {
			ti := &Typeinfo{Symbol: s.Name, Class: class}
			if err != nil {
				ti.Err = err.Error()
			} else {
				parseTypeinfo(ti, s.Value, words, relocs, names, classes, ef.ByteOrder)
			}
			tables.Typeinfo[ti.Symbol] = ti
			continue
		}
		vt := &VTable{Symbol: s.Name, Size: s.Size, Class: class}
		if err != nil {
			vt.Err = err.Error()
		} else {
			vt.Tables = parseVTable(s.Value, words, relocs, names)
		}
		tables.VTables[vt.Symbol] = vt
	}
	return tables, ""
}

// classNames demangles the classes of _ZTV and _ZTI symbols once each:
// the vtable and the typeinfo of a class, and the typeinfo of the classes
// derived from it, name it alike, and the other version's tables, when
// given, have most of the classes already. It maps the mangled type to the
// class.
type classNames map[string]string

// newClassNames returns classNames that start with the classes of base,
// which may be nil.
func newClassNames(base *Tables) classNames {
	cn := make(classNames)
	if base == nil {
		return cn
	}
	for _, vt := range base.VTables {
		if t, ok := mangledType(vt.Symbol); ok {
			cn[t] = vt.Class
		}
	}
	for _, ti := range base.Typeinfo {
		if t, ok := mangledType(ti.Symbol); ok {
			cn[t] = ti.Class
		}
	}
	return cn
}

// of returns the class the symbol name is for: the entity of a vtable,
// a typeinfo or any other C++ name.
func (cn classNames) of(name string) string {
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	t, ok := mangledType(name)
	if !ok {
		return ParseName(name).Entity
	}
	class, ok := cn[t]
	if !ok {
		class = ParseName(name).Entity
		cn[t] = class
	}
	return class
}

// mangledType returns the mangled type a _ZTV or _ZTI symbol is for.
func mangledType(sym string) (string, bool) {
	if strings.HasPrefix(sym, "_ZTV") || strings.HasPrefix(sym, "_ZTI") {
		return sym[len("_ZTV"):], true
	}
	return "", false
}

// objectRelocs returns the word relocations that fall inside the given
// objects, by address. The relocation sections are read a block at a time:
// those of a big C++ library take megabytes, of which the objects need a
// small part.
func objectRelocs(ef *elf.File, vts []elfsym.Symbol, dyn *elfsym.SymbolTable, k relocKinds, intern func(string) string) (relocs, error) {
	type span struct{ lo, hi uint64 }
	spans := make([]span, 0, len(vts))
	words := uint64(0) // a relocation per word at most
	for _, s := range vts {
		spans = append(spans, span{s.Value, s.Value + s.Size})
		words += s.Size / 8
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	inside := func(a uint64) bool {
		i := sort.Search(len(spans), func(i int) bool { return spans[i].hi > a })
		return i < len(spans) && spans[i].lo <= a
	}
	const entry = 24 // an Elf64_Rela
	entries := uint64(0)
	for _, sec := range ef.Sections {
		if sec.Type == elf.SHT_RELA && sec.Flags&elf.SHF_ALLOC != 0 {
			entries += sec.Size / entry
		}
	}
	// The relocations of a big C++ library's vtables take a megabyte or
	// more: sized once, they are not copied as they grow. The bound
	// keeps a corrupt size from allocating much.
	out := make(relocs, 0, min(words, entries, 1<<16))
	block := make([]byte, 4096*entry)
	bo := ef.ByteOrder
	for _, sec := range ef.Sections {
		if sec.Type != elf.SHT_RELA || sec.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		r := sec.Open()
		for {
			n, err := io.ReadFull(r, block)
			for data := block[:n-n%entry]; len(data) >= entry; data = data[entry:] {
				off, info, addend := bo.Uint64(data), bo.Uint64(data[8:]), bo.Uint64(data[16:])
				if !inside(off) {
					continue
				}
				typ, sym := uint32(info), info>>32
				switch typ {
				case k.relative:
					out = append(out, reloc{off: off, addr: addend})
				case k.abs, k.globDat:
					if sym >= 1 && sym < uint64(dyn.Len()) {
						out = append(out, reloc{off: off, sym: intern(dyn.At(int(sym)).Name), addend: int64(addend)})
					}
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", sec.Name, err)
			}
		}
	}
	return sortRelocs(out), nil
}

// sortRelocs sorts relocations read in file order by address. Of two
// relocations of one word, the later one holds, as for the dynamic loader.
func sortRelocs(rs relocs) relocs {
	slices.SortStableFunc(rs, func(a, b reloc) int { return cmp.Compare(a.off, b.off) })
	n := 0
	for i, r := range rs {
		if i+1 < len(rs) && rs[i+1].off == r.off {
			continue
		}
		rs[n] = r
		n++
	}
	return rs[:n]
}

// addressNames names the targets of the relative relocations in relocs:
// for each, a function or object defined at that address, preferring an
// exported one, then the complete-object variant of constructor and
// destructor aliases (C1, D1, which vtables use), then the lexically
// smallest, so the choice is deterministic. intern gives the string the
// result holds for a name.
func addressNames(dyn, local *elfsym.SymbolTable, relocs relocs, intern func(string) string) addrNames {
	n := 0
	for _, r := range relocs {
		if r.sym == "" {
			n++
		}
	}
	names := make(addrNames, 0, n)
	for _, r := range relocs {
		if r.sym == "" {
			names = append(names, addrName{addr: r.addr})
		}
	}
	slices.SortFunc(names, func(a, b addrName) int { return cmp.Compare(a.addr, b.addr) })
	names = slices.CompactFunc(names, func(a, b addrName) bool { return a.addr == b.addr })
	better := func(a, b addrName) bool {
		if b.name == "" || a.exported != b.exported {
			return b.name == "" || a.exported
		}
		av, bv := strings.Contains(a.name, "D1E") || strings.Contains(a.name, "C1E"),
			strings.Contains(b.name, "D1E") || strings.Contains(b.name, "C1E")
		if av != bv {
			return av
		}
		return a.name < b.name
	}
	add := func(syms *elfsym.SymbolTable, dynamic bool) {
		for i := 1; i < syms.Len(); i++ {
			s := syms.At(i)
			t := elf.ST_TYPE(s.Info)
			if s.Section == elf.SHN_UNDEF || s.Name == "" || (t != elf.STT_FUNC && t != elf.STT_OBJECT && t != elf.STT_GNU_IFUNC) {
				continue
			}
			j, wanted := names.find(s.Value)
			if !wanted {
				continue
			}
			if c := (addrName{s.Value, s.Name, dynamic && elfsym.Exported(elf.ST_BIND(s.Info), elf.ST_VISIBILITY(s.Other))}); better(c, names[j]) {
				names[j] = c
			}
		}
	}
	add(dyn, true)
	add(local, false)
	for i := range names {
		if names[i].name != "" {
			names[i].name = intern(names[i].name)
		}
	}
	return names
}

// addrNames names addresses: sorted by address, and searched, it takes a
// third of the memory of a map for the tens of thousands of slots of a big
// C++ library.
type addrNames []addrName

type addrName struct {
	addr     uint64
	name     string // "" when no symbol is defined at addr
	exported bool
}

// find returns the index of addr, and whether it is there.
func (ns addrNames) find(addr uint64) (int, bool) {
	return slices.BinarySearchFunc(ns, addr, func(n addrName, a uint64) int { return cmp.Compare(n.addr, a) })
}

// at returns the name of the symbol defined at addr, or "".
func (ns addrNames) at(addr uint64) string {
	if i, ok := ns.find(addr); ok {
		return ns[i].name
	}
	return ""
}

// readWords reads size bytes at virtual address addr as 64-bit words.
func readWords(ef *elf.File, addr, size uint64) ([]uint64, error) {
	if size == 0 || size%8 != 0 || size > maxVTableSize {
		return nil, fmt.Errorf("vtable size %d is not a whole number of words", size)
	}
	for _, sec := range ef.Sections {
		if sec.Flags&elf.SHF_ALLOC == 0 || addr < sec.Addr || addr+size > sec.Addr+sec.Size || addr+size < addr {
			continue
		}
		b := make([]byte, size)
		if sec.Type != elf.SHT_NOBITS {
			if _, err := sec.ReadAt(b, int64(addr-sec.Addr)); err != nil {
				return nil, fmt.Errorf("reading vtable at %#x in %s: %w", addr, sec.Name, err)
			}
		}
		w := make([]uint64, size/8)
		for i := range w {
			w[i] = ef.ByteOrder.Uint64(b[8*i:])
		}
		return w, nil
	}
	return nil, fmt.Errorf("vtable at %#x (%d bytes) is in no section", addr, size)
}

// A word of a vtable, classified.
type vword struct {
	target string // symbol the word points to, "" for a plain integer
	addr   uint64 // relative target, when target is unnamed
	reloc  bool   // the word is relocated (a pointer)
	value  int64  // the integer, when not relocated
}

func (w vword) isRTTI() bool { return strings.HasPrefix(w.target, "_ZTI") }

// parseVTable splits a vtable group into its vtables. Each vtable is
// [vcall and vbase offsets…] offset-to-top, RTTI pointer, function
// pointers…; a new one starts wherever a run of integers ends in an RTTI
// pointer. In a library built with -fno-rtti the RTTI word is 0, so a run
// of two or more integers starts a vtable (the last two being
// offset-to-top and the null RTTI pointer).
func parseVTable(base uint64, raw []uint64, relocs relocs, names addrNames) []SubTable {
	words := make([]vword, len(raw))
	hasRTTI := false
	for i, v := range raw {
		w := vword{value: int64(v)}
		if r, ok := relocs.at(base + 8*uint64(i)); ok {
			w.reloc = true
			switch {
			case r.sym != "" && r.addend != 0:
				w.target = fmt.Sprintf("%s%+d", r.sym, r.addend)
			case r.sym != "":
				w.target = r.sym
			default:
				w.addr = r.addr
				w.target = names.at(r.addr)
			}
		}
		words[i] = w
		hasRTTI = hasRTTI || w.isRTTI()
	}
	var out []SubTable
	for i := 0; i < len(words); {
		// The header: integers up to and including the RTTI word.
		j := i
		for j < len(words) && !words[j].reloc {
			j++
		}
		var t SubTable
		switch {
		case hasRTTI && j < len(words) && words[j].isRTTI() && j > i:
			t.RTTI = words[j].target
			t.OffsetToTop = words[j-1].value
			t.Offsets = intValues(words[i : j-1])
			j++
		case !hasRTTI && j-i >= 2:
			t.OffsetToTop = words[j-2].value
			t.Offsets = intValues(words[i : j-2])
		default:
			// Not a vtable header: keep the words as unnamed slots of
			// the previous table, or of a table of its own.
			if len(out) == 0 {
				out = append(out, SubTable{})
			}
			end := i
			for end < len(words) && (end == j || !startsTable(words, end, hasRTTI)) {
				end++
			}
			last := &out[len(out)-1]
			last.Slots = appendSlots(last.Slots, words[i:end])
			i = end
			continue
		}
		end := j
		for end < len(words) && !startsTable(words, end, hasRTTI) {
			end++
		}
		t.Slots = appendSlots(nil, words[j:end])
		out = append(out, t)
		i = end
	}
	return out
}

// appendSlots appends the slots of words to slots, growing it once, to
// the exact length: the tables of a big C++ library stay in memory
// through the check. Appending nothing leaves slots as it is (nil stays
// nil).
func appendSlots(slots []Slot, words []vword) []Slot {
	if len(words) == 0 {
		return slots
	}
	slots = slices.Grow(slots, len(words))
	for _, w := range words {
		slots = append(slots, Slot{Target: w.target, Addr: w.addr})
	}
	return slots
}

// startsTable reports whether a vtable header begins at word i.
func startsTable(words []vword, i int, hasRTTI bool) bool {
	j := i
	for j < len(words) && !words[j].reloc {
		j++
	}
	if hasRTTI {
		return j > i && j < len(words) && words[j].isRTTI()
	}
	return j-i >= 2
}

func intValues(ws []vword) []int64 {
	var out []int64
	for _, w := range ws {
		out = append(out, w.value)
	}
	return out
}
