package elfdiff

import (
	"debug/elf"
	"maps"
	"slices"
	"strings"

	"github.com/compatgate/compatgate/elfdiff/abi"
)

// StateSection reports whether the section s of a shared object holds the
// library's own state in writable memory (.data, .bss and their kin), not
// the dynamic linker's or the C runtime's bookkeeping (.got, .dynamic,
// .init_array…), not thread-local storage, and not data made read-only
// after relocation (.data.rel.ro).
func StateSection(s *elf.Section) bool {
	if s.Flags&elf.SHF_ALLOC == 0 || s.Flags&elf.SHF_WRITE == 0 || s.Flags&(elf.SHF_TLS|elf.SHF_EXECINSTR) != 0 ||
		(s.Type != elf.SHT_PROGBITS && s.Type != elf.SHT_NOBITS) || strings.HasPrefix(s.Name, ".data.rel.ro") {
		return false
	}
	switch s.Name {
	case ".got", ".got.plt", ".dynamic", ".init_array", ".fini_array", ".preinit_array", ".tm_clone_table", ".jcr":
		return false
	}
	return true
}

// stateAddress returns whether an address of ef lies in a section that
// holds the library's state (see StateSection).
func stateAddress(ef *elf.File) func(addr uint64) bool {
	var spans [][2]uint64
	for _, s := range ef.Sections {
		if StateSection(s) {
			spans = append(spans, [2]uint64{s.Addr, s.Addr + s.Size})
		}
	}
	return func(addr uint64) bool {
		for _, sp := range spans {
			if addr >= sp[0] && addr < sp[1] {
				return true
			}
		}
		return false
	}
}

// staticData compares the types of the variables the library keeps in its
// writable static storage without exporting them (abi.DebugInfo.PrivateVars),
// paired by name between the builds: a hot upgrade hands objects OLD made
// and keeps track of there (a list of open handles, a cache) to NEW's code.
// Each pair is a root marked static: the changes it alone reaches are kept
// when their type is private, with FactStaticData, and name no symbol.
func (d *typeDiffer) staticData(old, new *Corpus) {
	if old.Debug == nil || new.Debug == nil {
		return
	}
	for _, p := range pairPrivateVars(old.Debug.PrivateVars, new.Debug.PrivateVars) {
		l := &loc{kind: VarTypeChanged, silent: true}
		name := "static variable " + p[1].Name
		edges := d.at(p[0].Type, p[1].Type, l, 0)
		for i := range edges {
			if edges[i].unlabeled() {
				edges[i].of = p[1].Type
			}
		}
		d.roots = append(d.roots, root{symbol: name, edges: edges, static: true})
	}
}

// pairPrivateVars pairs the variables of two builds by name; the variables
// of one name (statics of several files) pair in address order when both
// builds have as many, and not at all otherwise. Pairs come in name order.
func pairPrivateVars(old, new map[uint64]*abi.Var) [][2]*abi.Var {
	byName := func(m map[uint64]*abi.Var) map[string][]*abi.Var {
		out := make(map[string][]*abi.Var)
		for _, addr := range slices.Sorted(maps.Keys(m)) {
			if v := m[addr]; v != nil && v.Name != "" && v.Type != nil {
				out[v.Name] = append(out[v.Name], v)
			}
		}
		return out
	}
	o, n := byName(old), byName(new)
	var pairs [][2]*abi.Var
	for _, name := range slices.Sorted(maps.Keys(o)) {
		if len(o[name]) != len(n[name]) {
			continue
		}
		for i := range o[name] {
			pairs = append(pairs, [2]*abi.Var{o[name][i], n[name][i]})
		}
	}
	return pairs
}
