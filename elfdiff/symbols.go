package elfdiff

import (
	"cmp"
	"debug/elf"
	"iter"
	"slices"
	"strings"
)

// A symbolList holds the exported symbols of a library, sorted by name
// and version, in 32 bytes each: a name is its place in the string table,
// which the list keeps one copy of, and a version its index in versions.
// As Symbol values, with a string header each for name and version and a
// machine word for each ELF attribute, the 50,000 symbols of a big C++
// library would take 80 bytes each.
type symbolList struct {
	syms     []packedSymbol
	strs     string   // the string table the names are in
	versions []string // version names; versions[0] is ""
}

// A packedSymbol is a Symbol as a symbolList holds it.
type packedSymbol struct {
	name, nameLen uint32 // the name is strs[name:name+nameLen]
	value, size   uint64
	version       uint16 // index in versions
	info, other   uint8  // st_info and st_other
	dflt          bool   // the version is the default one
}

// newSymbolList returns an empty list of symbols whose names are in strs,
// with room for n.
func newSymbolList(strs string, n int) symbolList {
	return symbolList{syms: make([]packedSymbol, 0, n), strs: strs, versions: []string{""}}
}

// add appends s, whose name must be a substring of the list's string
// table starting at offset name.
func (l *symbolList) add(s Symbol, name uint32) {
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

// Len returns the number of symbols.
func (l *symbolList) Len() int { return len(l.syms) }

// At returns symbol i, 0 ≤ i < Len.
func (l *symbolList) At(i int) Symbol {
	p := &l.syms[i]
	return Symbol{
		Name:       l.strs[p.name : p.name+p.nameLen],
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
func (l *symbolList) All() iter.Seq2[int, Symbol] {
	return func(yield func(int, Symbol) bool) {
		for i := range l.syms {
			if !yield(i, l.At(i)) {
				return
			}
		}
	}
}

// sort orders the symbols by name, then version: the order find and
// byName search.
func (l *symbolList) sort() {
	slices.SortFunc(l.syms, func(a, b packedSymbol) int {
		return cmp.Or(strings.Compare(l.strs[a.name:a.name+a.nameLen], l.strs[b.name:b.name+b.nameLen]),
			strings.Compare(l.versions[a.version], l.versions[b.version]))
	})
}

// find returns the index of the symbol with the given name and version.
func (l *symbolList) find(name, version string) (int, bool) {
	return slices.BinarySearchFunc(l.syms, struct{}{}, func(p packedSymbol, _ struct{}) int {
		return cmp.Or(strings.Compare(l.strs[p.name:p.name+p.nameLen], name),
			strings.Compare(l.versions[p.version], version))
	})
}

// byName returns the range of symbols called name.
func (l *symbolList) byName(name string) (i, j int) {
	i, _ = l.find(name, "")
	j = i
	for j < len(l.syms) && l.strs[l.syms[j].name:l.syms[j].name+l.syms[j].nameLen] == name {
		j++
	}
	return i, j
}
