package elfdiff

// This file merges the C++ findings of the two halves — the ELF side
// (symbol tables, vtables, typeinfo) and the DWARF side (class layout,
// bases, methods) — so that each change is reported once.
//
// Ownership:
//   - mangled-name changes (const, volatile, ref-qualifiers, parameter
//     types): ELF. The DWARF side compares only symbols of one name.
//   - vtable slots of classes whose vtable both libraries export: ELF. The
//     DWARF side compares slots (DW_AT_vtable_elem_location) only of the
//     other classes (abstract interfaces, no key function).
//   - base classes: both see them (typeinfo for polymorphic classes, DWARF
//     for all); one finding per (kind, class, base), the ELF one, with the
//     affected symbols of both.
//   - a vtable appearing: DWARF tells a new vptr (break) from a key
//     function moved out of line; its class-vptr-added replaces the ELF
//     side's class-gained-vtable.

import (
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// dedupCXX merges the DWARF findings dw into the ELF findings el.
func dedupCXX(el, dw []Change) []Change {
	type key struct {
		k          Kind
		typ, where string
	}
	at := make(map[key]int)
	for i, c := range el {
		switch c.Kind {
		case TypeinfoBaseAdded, TypeinfoBaseRemoved, TypeinfoBaseReplaced, TypeinfoBaseMoved, TypeinfoBaseVirtual, TypeinfoBaseAccess:
			at[key{c.Kind, c.Type, c.Where}] = i
		}
	}
	vptr := make(map[string]bool)
	out := el
	for _, c := range dw {
		if c.Kind == ClassVPtrAdded {
			vptr[c.Type] = true
		}
		if i, ok := at[key{c.Kind, c.Type, c.Where}]; ok {
			out[i].Affected = mergeSorted(out[i].Affected, c.Affected)
			continue
		}
		out = append(out, c)
	}
	if len(vptr) == 0 {
		return out
	}
	kept := out[:0]
	for _, c := range out {
		if c.Kind == VTableAdded && vptr[c.Type] {
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// mergeSorted returns the union of a and b, sorted, without duplicates.
func mergeSorted(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, s := range append(append([]string(nil), a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// isFuncTemplate reports whether a demangled function name without its
// parameters names an instance of a function template, whose own template
// arguments end it: "S<int>::get<char>", not "S<int>::get" or "operator>".
func isFuncTemplate(name string) bool {
	name = strings.TrimSuffix(strings.TrimSuffix(name, " const"), " volatile")
	if !strings.HasSuffix(name, ">") {
		return false
	}
	for _, op := range []string{"operator>", "operator>>", "operator->", "operator>=", "operator>>=", "operator<=>"} {
		if strings.HasSuffix(name, op) {
			return false
		}
	}
	return true
}

// inlineRemoved reclassifies removed functions that the old library's
// DWARF declares inline, or as members of a class, that are not template
// instances, and that it exported with weak (vague) linkage:
// clients that called them compiled their own copy, unless they relied on
// the library's (extern template, -fno-inline and no definition in view).
func inlineRemoved(old *Corpus, changes []Change) {
	if old.Debug == nil || !slices.ContainsFunc(changes, func(c Change) bool { return c.Kind == SymbolRemoved }) {
		return
	}
	byName := make(map[string]Symbol)
	for _, s := range old.Symbols() {
		byName[s.String()] = s
	}
	for i, c := range changes {
		if c.Kind != SymbolRemoved {
			continue
		}
		s, ok := byName[c.Symbol]
		if !ok || s.Bind != elf.STB_WEAK || !isFunc(s) {
			continue
		}
		// A weak (vague-linkage) function outside templates is inline:
		// clients that saw its definition have their own copy. So has
		// every client of an instance of a function template defined in
		// a header (basic_string::_M_construct<char const*>): an explicit
		// instantiation of a class template (extern template class, which
		// clients may rely on) does not cover its member templates. Other
		// template instances are left as removed symbols: the library may
		// have instantiated them explicitly for clients declaring them
		// extern.
		f := old.Debug.Func(s)
		if name := demangle.Filter(s.Name, demangle.NoParams); strings.Contains(name, "<") {
			if f != nil && f.InHeader && isFuncTemplate(name) {
				changes[i].Kind = TemplateInstRemoved
				changes[i].Detail = fmt.Sprintf("weak instance %s of a function template defined in a header is no longer emitted by the library", c.Symbol)
			}
			continue
		}
		if f != nil && (f.Inline || f.Method) {
			changes[i].Kind = InlineFuncRemoved
			changes[i].Detail = fmt.Sprintf("inline function %s is no longer emitted by the library", c.Symbol)
		}
	}
}
