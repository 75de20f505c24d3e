package elfsym

import (
	"debug/elf"
	"strings"
)

// Exported reports whether a definition with this binding and visibility is
// visible to other objects.
func Exported(b elf.SymBind, v elf.SymVis) bool {
	return (b == elf.STB_GLOBAL || b == elf.STB_WEAK || b == STB_GNU_UNIQUE) &&
		(v == elf.STV_DEFAULT || v == elf.STV_PROTECTED)
}

// ReadExports returns the exported definitions of dyn (a .dynsym), sorted,
// the undefined symbols and the library's own version nodes, excluding the
// base node.
func ReadExports(dyn *SymbolTable) (syms SymbolList, undefined []Symbol, versions []string) {
	if dyn == nil {
		return
	}
	for _, v := range dyn.Defs {
		if v.Flags&elf.VER_FLG_BASE == 0 {
			// A copy: nothing the corpus keeps may point into the
			// string table, which share frees.
			versions = append(versions, strings.Clone(v.Name))
		}
	}
	n := 0
	for i := 1; i < dyn.Len(); i++ {
		if s := dyn.At(i); s.Section != elf.SHN_UNDEF && Exported(elf.ST_BIND(s.Info), elf.ST_VISIBILITY(s.Other)) {
			n++
		}
	}
	syms = NewSymbolList(dyn.Strings, n)
	for i := 1; i < dyn.Len(); i++ {
		s := dyn.At(i)
		sym := Symbol{
			Name:       s.Name,
			Type:       elf.ST_TYPE(s.Info),
			Bind:       elf.ST_BIND(s.Info),
			Visibility: elf.ST_VISIBILITY(s.Other),
			Size:       s.Size,
			Value:      s.Value,
		}
		vi, version, hasVersion := dyn.Version(i)
		if s.Section == elf.SHN_UNDEF {
			sym.Name, sym.Version = strings.Clone(sym.Name), strings.Clone(version)
			undefined = append(undefined, sym)
			continue
		}
		if s.Name == "" || !Exported(sym.Bind, sym.Visibility) {
			continue
		}
		if hasVersion && vi.Index() > 1 { // 0 local, 1 global (unversioned)
			sym.Version = version
			sym.Default = !vi.IsHidden()
		}
		if s.Section == elf.SHN_ABS && sym.Version != "" && s.Name == sym.Version {
			continue // ld's marker for the version node itself, not an interface
		}
		syms.Add(sym, s.NameOff)
	}
	syms.Sort()
	return
}
