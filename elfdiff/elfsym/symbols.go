package elfsym

import (
	"cmp"
	"debug/elf"
	"iter"
	"slices"
	"strings"
)

// A SymbolList holds the exported symbols of a library, sorted by name
// and version, in 32 bytes each: a name is its place in the string table,
// which the list keeps one copy of, and a version its index in versions.
// As Symbol values, with a string header each for name and version and a
// machine word for each ELF attribute, the 50,000 symbols of a big C++
// library would take 80 bytes each.
type SymbolList struct {
	syms []packedSymbol
	strs string // the string table the names are in
	// shared is another list's string table, which the names marked
	// sharedName are in (see share).
	shared   string
	versions []string // version names; versions[0] is ""
}

// sharedName marks a packedSymbol's name offset as one into the list's
// shared string table.
const sharedName = 1 << 31

// A packedSymbol is a Symbol as a SymbolList holds it.
type packedSymbol struct {
	name, nameLen uint32 // the name is strs[name:name+nameLen], or shared's (see sharedName)
	value, size   uint64
	version       uint16 // index in versions
	info, other   uint8  // st_info and st_other
	dflt          bool   // the version is the default one
}

// NewSymbolList returns an empty list of symbols whose names are in strs,
// with room for n.
func NewSymbolList(strs string, n int) SymbolList {
	return SymbolList{syms: make([]packedSymbol, 0, n), strs: strs, versions: []string{""}}
}

// Add appends s, whose name must be a substring of the list's string
// table starting at offset name.
func (l *SymbolList) Add(s Symbol, name uint32) {
	v := slices.Index(l.versions, s.Version)
	if v < 0 {
		v = len(l.versions)
		l.versions = append(l.versions, s.Version)
	}
	l.syms = append(l.syms, packedSymbol{
		name: name, nameLen: uint32(len(s.Name)), value: s.Value, size: s.Size, version: uint16(v),
		info: uint8(elf.ST_INFO(s.Bind, s.Type)), other: uint8(s.Visibility), dflt: s.Default,
	})
}

// name returns the name of p, a symbol of the list.
func (l *SymbolList) name(p *packedSymbol) string {
	if p.name&sharedName != 0 {
		off := p.name &^ sharedName
		return l.shared[off : off+p.nameLen]
	}
	return l.strs[p.name : p.name+p.nameLen]
}

// Share makes the list hold no reference to the string table it was read
// from: the names base also has are taken from base's table, and the
// others copied into one string of the list's own. Checking two versions
// of a library, whose names are mostly the same, then keeps one copy of
// each name instead of both string tables. Both lists must be sorted.
func (l *SymbolList) Share(base *SymbolList) {
	if uint64(len(base.strs)) >= sharedName || uint64(len(l.strs)) >= sharedName {
		return // offsets would not fit beside the mark
	}
	// First the names base has; the others, still offsets into strs,
	// are copied after, into a string of their exact size.
	ownLen, b := 0, 0
	for i := range l.syms {
		p := &l.syms[i]
		name := l.name(p)
		for b < len(base.syms) && base.name(&base.syms[b]) < name {
			b++
		}
		if b < len(base.syms) && base.syms[b].name&sharedName == 0 && base.name(&base.syms[b]) == name {
			p.name = base.syms[b].name | sharedName
			continue
		}
		ownLen += int(p.nameLen)
	}
	var own strings.Builder
	own.Grow(ownLen)
	for i := range l.syms {
		if p := &l.syms[i]; p.name&sharedName == 0 {
			name := l.name(p)
			p.name = uint32(own.Len())
			own.WriteString(name)
		}
	}
	l.strs, l.shared = own.String(), base.strs
	for i, v := range l.versions {
		l.versions[i] = strings.Clone(v)
	}
}

// canonical returns name as the list holds it when the list has a
// symbol of that name, and "" and false otherwise.
func (l *SymbolList) canonical(name string) (string, bool) {
	if i, j := l.ByName(name); i < j {
		return l.name(&l.syms[i]), true
	}
	return "", false
}

// An Interner gives, for a name, the string a corpus keeps for it: its
// symbol list's own when the list has a symbol of that name, else one
// copy, shared by every use.
type Interner struct {
	syms   *SymbolList
	copies map[string]string
}

// NewInterner returns an Interner that prefers the names of syms.
func NewInterner(syms *SymbolList) *Interner {
	return &Interner{syms: syms, copies: make(map[string]string)}
}

// Intern returns the string kept for name.
func (in *Interner) Intern(name string) string {
	if s, ok := in.syms.canonical(name); ok {
		return s
	}
	s, ok := in.copies[name]
	if !ok {
		s = strings.Clone(name)
		in.copies[s] = s // the copy is the key too: name may be part of a string table
	}
	return s
}

// Len returns the number of symbols.
func (l *SymbolList) Len() int { return len(l.syms) }

// At returns symbol i, 0 ≤ i < Len.
func (l *SymbolList) At(i int) Symbol {
	p := &l.syms[i]
	return Symbol{
		Name:       l.name(p),
		Version:    l.versions[p.version],
		Default:    p.dflt,
		Type:       elf.ST_TYPE(p.info),
		Bind:       elf.ST_BIND(p.info),
		Visibility: elf.ST_VISIBILITY(p.other),
		Size:       p.size,
		Value:      p.value,
	}
}

// All returns the symbols with their indices, in order.
func (l *SymbolList) All() iter.Seq2[int, Symbol] {
	return func(yield func(int, Symbol) bool) {
		for i := range l.syms {
			if !yield(i, l.At(i)) {
				return
			}
		}
	}
}

// Sort orders the symbols by name, then version: the order find and
// byName search.
func (l *SymbolList) Sort() {
	slices.SortFunc(l.syms, func(a, b packedSymbol) int {
		return cmp.Or(strings.Compare(l.name(&a), l.name(&b)),
			strings.Compare(l.versions[a.version], l.versions[b.version]))
	})
}

// Find returns the index of the symbol with the given name and version.
func (l *SymbolList) Find(name, version string) (int, bool) {
	return slices.BinarySearchFunc(l.syms, struct{}{}, func(p packedSymbol, _ struct{}) int {
		return cmp.Or(strings.Compare(l.name(&p), name),
			strings.Compare(l.versions[p.version], version))
	})
}

// ByName returns the range of symbols called name.
func (l *SymbolList) ByName(name string) (i, j int) {
	i, _ = l.Find(name, "")
	j = i
	for j < len(l.syms) && l.name(&l.syms[j]) == name {
		j++
	}
	return i, j
}

// IsDefault reports whether symbol i's version is the default one.
func (l *SymbolList) IsDefault(i int) bool { return l.syms[i].dflt }

// SymbolListOf returns a list of the given symbols, sorted, whose names
// are in one string table of the list's own: the list a library's symbols
// make when they come from elsewhere than its ELF file (an ABI dump).
func SymbolListOf(syms []Symbol) SymbolList {
	var strs strings.Builder
	for _, s := range syms {
		strs.WriteString(s.Name)
	}
	l := NewSymbolList(strs.String(), len(syms))
	off := uint32(0)
	for _, s := range syms {
		l.Add(s, off)
		off += uint32(len(s.Name))
	}
	l.Sort()
	return l
}
