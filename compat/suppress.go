package compat

import (
	"debug/elf"
	"fmt"
	"strings"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/abi"
	"github.com/compatgate/compatgate/rules"
)

// SuppressionUse says how many findings one suppression section silenced,
// in the JSON report's "suppressions".
type SuppressionUse struct {
	File       string `json:"file"`
	Line       int    `json:"line"`
	Kind       string `json:"kind"`
	Label      string `json:"label,omitempty"`
	Suppressed int    `json:"suppressed"`
}

// suppressor applies suppression sections to the changes of one pair of
// libraries.
type suppressor struct {
	supps    []*rules.Suppression
	target   rules.Target
	old, new *elfdiff.Corpus
	types    [2]map[string]*abi.Type // by name, built on first use
	reach    map[string]int          // firstReach's answer by symbol: a type change affects many
}

// apply returns, for every change, the index of the suppression that
// silences it, or -1; and the number of types a section left undecided
// (it asks for source locations) by section.
func (s *suppressor) apply(changes *elfdiff.Changes) (by []int, undecided map[int]int) {
	by = make([]int, changes.Len())
	for i := range by {
		by[i] = -1
	}
	undecided = make(map[int]int)
	for k, sp := range s.supps {
		if sp.SuppressesFile(s.target) {
			for i := range by {
				by[i] = k
			}
			return by, undecided
		}
	}
	// Type findings, all the findings of one type at once.
	byType := make(map[string][]int)
	var typeOrder []string
	for i := range changes.Len() {
		c := changes.At(i)
		if c.Type != "" {
			if byType[c.Type] == nil {
				typeOrder = append(typeOrder, c.Type)
			}
			byType[c.Type] = append(byType[c.Type], i)
		}
	}
	for _, name := range typeOrder {
		idx := byType[name]
		cs := make([]elfdiff.Change, len(idx))
		for j, i := range idx {
			cs[j] = changes.At(i)
		}
		info := s.typeInfo(name)
		for k, sp := range s.supps {
			d := sp.SuppressesType(s.target, name, cs, info)
			if d == rules.Undecided {
				undecided[k]++
			}
			if d == rules.Suppressed {
				for _, i := range idx {
					by[i] = k
				}
				break
			}
		}
	}
	// Symbol findings, and type findings whose every affected symbol a
	// function or variable suppression silences.
	for i := range changes.Len() {
		if by[i] >= 0 {
			continue
		}
		c := changes.At(i)
		switch {
		case c.Symbol != "" && c.Type == "":
			by[i] = s.firstSymbol(c)
		case c.Type != "" && len(c.Affected) > 0:
			by[i] = s.firstReach(c.Affected)
		}
	}
	return by, undecided
}

// firstSymbol returns the first function or variable suppression that
// silences c, or -1.
func (s *suppressor) firstSymbol(c elfdiff.Change) int {
	name := sourceName(c.Symbol)
	for k, sp := range s.supps {
		if sp.SuppressesSymbol(s.target, c, name) {
			return k
		}
	}
	return -1
}

// firstReach returns the suppression that silences the sub-type changes
// of every symbol in affected, or -1.
func (s *suppressor) firstReach(affected []string) int {
	first := -1
	if s.reach == nil {
		s.reach = make(map[string]int)
	}
	for _, a := range affected {
		k, ok := s.reach[a]
		if !ok {
			k = -1
			symType, name := s.symbolType(a), sourceName(a)
			for j, sp := range s.supps {
				if sp.SuppressesReach(s.target, a, symType, name) {
					k = j
					break
				}
			}
			s.reach[a] = k
		}
		if k < 0 {
			return -1
		}
		if first < 0 {
			first = k
		}
	}
	return first
}

// symbolType returns the ELF type of an exported symbol of either side.
func (s *suppressor) symbolType(symbol string) string {
	key := strings.Replace(symbol, "@@", "@", 1)
	for _, c := range []*elfdiff.Corpus{s.new, s.old} {
		if c == nil {
			continue
		}
		if sym, ok := c.Lookup(key); ok {
			switch sym.Type {
			case elf.STT_FUNC:
				return "FUNC"
			case elf.STT_LOOS: // STT_GNU_IFUNC
				return "IFUNC"
			case elf.STT_OBJECT, elf.STT_COMMON:
				return "OBJECT"
			case elf.STT_TLS:
				return "TLS"
			}
			return ""
		}
	}
	return ""
}

// sourceName returns the name a suppression's "name" matches for an
// exported symbol: the C name, or the demangled C++ name without its
// parameter list and version.
func sourceName(symbol string) string {
	name, _, _ := strings.Cut(symbol, "@")
	d := Demangle(name)
	if d == name {
		return name
	}
	depth := 0
	for i, r := range d {
		switch r {
		case '<':
			depth++
		case '>':
			depth--
		case '(':
			if depth == 0 && i > 0 {
				return d[:i]
			}
		}
	}
	return d
}

// typeInfo returns what the corpora know of the type named name.
func (s *suppressor) typeInfo(name string) rules.TypeInfo {
	info := rules.TypeInfo{OldSize: -1}
	ot, nt := s.lookupType(0, name), s.lookupType(1, name)
	t := nt
	if t == nil {
		t = ot
	}
	if t == nil {
		return info
	}
	info.Kind = typeKindNames[t.Kind]
	if ot != nil && ot.Size >= 0 {
		info.OldSize = ot.Size * 8
	}
	member := func(t *abi.Type, m string) (int64, int64, bool) {
		if t == nil {
			return 0, 0, false
		}
		for _, mb := range t.Members {
			if mb.Name == m {
				off, size := mb.Offset*8, mb.Type.Sizeof()*8
				if mb.BitSize > 0 {
					off, size = mb.BitOffset, mb.BitSize
				}
				return off, size, true
			}
		}
		return 0, 0, false
	}
	info.Member = func(m string) (int64, int64, bool) {
		if off, size, ok := member(ot, m); ok {
			return off, size, true
		}
		return member(nt, m)
	}
	info.NewMember = func(m string) (int64, bool) {
		off, _, ok := member(nt, m)
		return off, ok
	}
	return info
}

// typeKindNames are libabigail's type_kind names of elfdiff's kinds.
var typeKindNames = map[abi.TypeKind]string{
	abi.StructType: "struct", abi.ClassType: "class", abi.UnionType: "union",
	abi.EnumType: "enum", abi.TypedefType: "typedef", abi.ArrayType: "array", abi.BaseType: "builtin",
}

// lookupType returns the named type of one side (0 old, 1 new), indexing
// the types its declarations reach on first use.
func (s *suppressor) lookupType(side int, name string) *abi.Type {
	c := [2]*elfdiff.Corpus{s.old, s.new}[side]
	if c == nil || c.Debug == nil {
		return nil
	}
	if s.types[side] == nil {
		s.types[side] = indexTypes(c.Debug)
	}
	return s.types[side][name]
}

// indexTypes returns the named types reachable from the declarations, by
// the name reports spell them with and by their bare name.
func indexTypes(d *abi.DebugInfo) map[string]*abi.Type {
	idx := make(map[string]*abi.Type)
	seen := make(map[*abi.Type]bool)
	var walk func(t *abi.Type)
	walk = func(t *abi.Type) {
		if t == nil || seen[t] {
			return
		}
		seen[t] = true
		if t.Name != "" {
			if _, ok := typeKindNames[t.Kind]; ok {
				for _, n := range []string{t.String(), t.Name} {
					if old := idx[n]; old == nil || old.Declaration {
						idx[n] = t
					}
				}
			}
		}
		walk(t.Elem)
		for _, m := range t.Members {
			walk(m.Type)
		}
		for _, p := range t.Params {
			walk(p)
		}
	}
	for _, f := range d.Funcs {
		walkFunc(f, walk)
	}
	for _, f := range d.FuncsByName {
		walkFunc(f, walk)
	}
	for _, v := range d.Vars {
		walk(v.Type)
	}
	for _, v := range d.VarsByName {
		walk(v.Type)
	}
	return idx
}

func walkFunc(f *abi.Func, walk func(*abi.Type)) {
	walk(f.Return)
	walk(f.This)
	for _, p := range f.Params {
		walk(p.Type)
	}
}

// undecidedNotes says which suppressions could not be applied for want
// of source locations.
func undecidedNotes(supps []*rules.Suppression, undecided map[int]int) []string {
	var notes []string
	for k, sp := range supps {
		if n := undecided[k]; n > 0 {
			notes = append(notes, fmt.Sprintf("suppression %s: source_location_not_in/source_location_not_regexp need the "+
				"declaration's source file, which compatgate does not read from DWARF; the changes of %d matching type(s) were kept", sp, n))
		}
	}
	return notes
}
