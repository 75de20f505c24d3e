package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/cxx"

	"cmp"
	"fmt"
	"slices"
	"strings"
)

// cxxNameOf returns the identity of a symbol spelled with or without its
// version.
func cxxNameOf(sym string) cxx.Name {
	if i := strings.IndexByte(sym, '@'); i >= 0 {
		sym = sym[:i]
	}
	return cxx.ParseName(sym)
}

// cxxPass refines the symbol-level changes of a C++ library: a removed
// and an added symbol that are the same function with another signature
// become one change naming the cause; the variants of one constructor or
// destructor become one change; removed or resized vtables and typeinfo
// get their own kinds; and the changes of the exported vtables, compared
// slot by slot (diffVTables), are added.
func cxxPass(old, new *Corpus, changes, vtables []Change) []Change {
	changes = pairRenamed(changes)
	changes = classifySpecials(changes)
	changes = groupVariants(changes)
	// The changes to vtables and typeinfo affect every member of their
	// class: the classes are collected first, so that the members of
	// only those are kept.
	typeinfo := diffTypeinfo(old, new)
	need := make(map[string]bool)
	addedVTables := make(map[int]string) // change index → class
	for i, c := range changes {
		switch c.Kind {
		case TypeinfoRemoved, TypeinfoNameRemoved, VTableRemoved, TypeinfoSizeChanged, VTableSizeChanged:
			need[c.Type] = true
		case SymbolAdded:
			if !strings.HasPrefix(c.Symbol, "_ZTV") {
				continue // not a vtable: spared demangling
			}
			if n := cxxNameOf(c.Symbol); n.Special == cxx.VTableSymbol {
				need[n.Entity] = true
				addedVTables[i] = n.Entity
			}
		}
	}
	for _, cs := range [][]Change{vtables, typeinfo} {
		for _, c := range cs {
			need[c.Type] = true
		}
	}
	var members map[string][]string
	if len(need) > 0 {
		members = classMembers(old, need)
	}
	for i, c := range changes {
		switch c.Kind {
		case TypeinfoRemoved, TypeinfoNameRemoved, VTableRemoved, TypeinfoSizeChanged, VTableSizeChanged, SymbolAdded:
			class, vtable := addedVTables[i]
			if c.Kind == SymbolAdded && !vtable {
				continue
			}
			if c.Kind == SymbolAdded {
				// A vtable for a class that already had exported members.
				if len(members[class]) == 0 {
					continue
				}
				changes[i].Kind, changes[i].Type = VTableAdded, class
				changes[i].Detail = fmt.Sprintf("%s now has an exported vtable (%s)", class, c.Symbol)
				c.Type = class
			}
			changes[i].Affected = members[c.Type]
		}
	}
	for _, cs := range [][]Change{vtables, typeinfo} {
		for i := range cs {
			cs[i].Affected = members[cs[i].Type]
		}
	}
	changes = append(changes, vtables...)
	markShiftedBases(new, changes)
	return append(changes, typeinfo...)
}

// markShiftedBases adds FactBaseOfShifted to every virtual method appended
// to a class that, in the new version, is a direct base of a class whose
// own virtual methods were inserted at some slot (they follow the base's
// slots in the shared vtable, so the base's new slot pushed them along):
// the class is not a leaf, and appending to it changed the hierarchy.
func markShiftedBases(new *Corpus, changes []Change) {
	if new.CXX == nil {
		return
	}
	shifted := make(map[string]bool)
	for _, c := range changes {
		if c.Kind == VirtualInserted && c.Type != "" {
			shifted[c.Type] = true
		}
	}
	if len(shifted) == 0 {
		return
	}
	bases := make(map[string]bool)
	for _, ti := range new.CXX.Typeinfo {
		if !shifted[ti.Class] {
			continue
		}
		for _, b := range ti.Bases {
			if b.Name != "" {
				bases[b.Name] = true
			}
		}
	}
	for i, c := range changes {
		if c.Kind == VirtualAppended && bases[c.Type] {
			changes[i].Facts |= FactBaseOfShifted
		}
	}
}

// symVersion returns the version part of a symbol spelling ("V1" of
// "f@@V1" or "f@V1"), or "".
func symVersion(s string) string {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		return strings.TrimLeft(s[i:], "@")
	}
	return ""
}

// pairRenamed replaces a removed and an added C++ function that are the
// same entity by one change naming the cause.
//
// The pairing rule: removed and added functions are grouped by entity
// (qualified name with template arguments) and constructor or destructor
// variant — not by symbol version, since libraries such as LLVM version
// every symbol by release. Within a group, a removed function is first
// paired with the one added function that has the same parameters (only
// qualifiers or a template's return type changed), when that match is
// unique both ways; then, if exactly one removed and one added function
// remain, they are paired as a parameter change. Anything else — several
// overloads changed at once, or an overload only removed — stays removed
// and added, since a guess would name the wrong cause. A function that
// moved to another class or namespace is another entity: removed + added.
func pairRenamed(changes []Change) []Change {
	type group struct{ removed, added []int }
	groups := make(map[string]*group)
	var order []string
	for i, c := range changes {
		if (c.Kind != SymbolRemoved && c.Kind != SymbolAdded) || c.SymbolType != "FUNC" {
			continue
		}
		n := cxxNameOf(c.Symbol)
		var key string
		switch {
		case n.Special == cxx.Plain && n.Func:
			key = n.Entity + "\x00" + n.Variant
		case n.Special == cxx.Thunk || n.Special == cxx.VirtualThunk:
			// A thunk to the same function with another adjustment:
			// paired only with a thunk to exactly that function.
			key = string(n.Special) + "\x00" + n.Signature() + "\x00" + n.Variant
		default:
			continue
		}
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
			order = append(order, key)
		}
		if c.Kind == SymbolRemoved {
			g.removed = append(g.removed, i)
		} else {
			g.added = append(g.added, i)
		}
	}
	drop := make(map[int]bool)
	for _, key := range order {
		g := groups[key]
		if len(g.removed) == 0 || len(g.added) == 0 {
			continue
		}
		used := make(map[int]bool)
		// Same parameters: qualifiers or the return type changed. The
		// parameter list must name exactly one removed and one added
		// function of the group.
		params := make(map[int]string) // change index → parameter list
		removedBy := make(map[string][]int)
		for _, r := range g.removed {
			pl := cxxNameOf(changes[r].Symbol).ParamList()
			params[r] = pl
			removedBy[pl] = append(removedBy[pl], r)
		}
		addedBy := make(map[string][]int)
		for _, a := range g.added {
			pl := cxxNameOf(changes[a].Symbol).ParamList()
			addedBy[pl] = append(addedBy[pl], a)
		}
		for _, r := range g.removed {
			pl := params[r]
			if len(removedBy[pl]) != 1 || len(addedBy[pl]) != 1 {
				continue
			}
			match := addedBy[pl][0]
			used[match], used[r] = true, true
			changes[r] = pairedChange(changes[r], changes[match])
			drop[match] = true
		}
		var rs, as []int
		for _, r := range g.removed {
			if !used[r] {
				rs = append(rs, r)
			}
		}
		for _, a := range g.added {
			if !used[a] {
				as = append(as, a)
			}
		}
		if len(rs) == 1 && len(as) == 1 {
			changes[rs[0]] = pairedChange(changes[rs[0]], changes[as[0]])
			drop[as[0]] = true
		}
	}
	if len(drop) == 0 {
		return changes
	}
	out := changes[:0]
	for i, c := range changes {
		if !drop[i] {
			out = append(out, c)
		}
	}
	return out
}

// pairedChange describes why removed symbol r was replaced by added a.
func pairedChange(r, a Change) Change {
	on, nn := cxxNameOf(r.Symbol), cxxNameOf(a.Symbol)
	c := Change{Symbol: r.Symbol, SymbolType: r.SymbolType, Affected: []string{r.Symbol}}
	oldSig, newSig := on.Signature(), nn.Signature()
	switch {
	case on.Special == cxx.Thunk || on.Special == cxx.VirtualThunk:
		c.Kind = CXXThunkChanged
		c.Old, c.New = thunkAdjustment(r.Symbol), thunkAdjustment(a.Symbol)
		if on.Variant != "" {
			oldSig += " (" + on.Variant + ")"
		}
		c.Detail = fmt.Sprintf("the non-virtual thunk to %s now adjusts this by %s instead of %s (%s)",
			oldSig, c.New, c.Old, a.Symbol)
		if on.Special == cxx.VirtualThunk {
			c.Detail = fmt.Sprintf("the virtual thunk to %s now uses %s instead of %s (%s)", oldSig, c.New, c.Old, a.Symbol)
		}
	case on.ParamList() != nn.ParamList():
		c.Kind = CXXParamsChanged
		c.Old, c.New = on.ParamList(), nn.ParamList()
		c.Where = paramWhere(on.Params, nn.Params)
		c.Detail = fmt.Sprintf("%s is now %s (%s)", oldSig, newSig, a.Symbol)
	case on.Quals != nn.Quals || on.Ref != nn.Ref:
		c.Kind = CXXQualifiersChanged
		c.Old, c.New = on.Qualifiers(), nn.Qualifiers()
		c.Detail = fmt.Sprintf("%s is now %s (%s): qualifiers %s → %s", oldSig, newSig, a.Symbol,
			orNone(c.Old), orNone(c.New))
	default:
		c.Kind = CXXReturnChanged
		c.Old, c.New = on.Return, nn.Return
		c.Where = "return type"
		c.Detail = fmt.Sprintf("%s %s now returns %s (%s)", on.Return, oldSig, nn.Return, a.Symbol)
	}
	return c
}

// paramWhere locates a parameter change: "parameter 2" when one parameter
// of an equally long list differs, "parameters" otherwise.
func paramWhere(o, n []string) string {
	if len(o) != len(n) {
		return "parameters"
	}
	at := -1
	for i := range o {
		if o[i] != n[i] {
			if at >= 0 {
				return "parameters"
			}
			at = i
		}
	}
	return fmt.Sprintf("parameter %d", at+1)
}

// classifySpecials gives removed and resized vtables and typeinfo objects
// their own kinds, attached to their class.
func classifySpecials(changes []Change) []Change {
	for i, c := range changes {
		// Only _ZTV, _ZTI and _ZTS names are vtables and typeinfo: the
		// others are spared demangling.
		if c.Kind != SymbolRemoved && c.Kind != SymbolSizeChanged || !strings.HasPrefix(c.Symbol, "_ZT") {
			continue
		}
		n := cxxNameOf(c.Symbol)
		k := c.Kind
		switch {
		case c.Kind == SymbolRemoved && n.Special == cxx.TypeinfoSymbol:
			k = TypeinfoRemoved
		case c.Kind == SymbolRemoved && n.Special == cxx.TypeinfoNameSymbol:
			k = TypeinfoNameRemoved
		case c.Kind == SymbolRemoved && n.Special == cxx.VTableSymbol:
			k = VTableRemoved
		case c.Kind == SymbolSizeChanged && n.Special == cxx.VTableSymbol:
			k = VTableSizeChanged
		case c.Kind == SymbolSizeChanged && (n.Special == cxx.TypeinfoSymbol || n.Special == cxx.TypeinfoNameSymbol):
			k = TypeinfoSizeChanged
			if n.Special == cxx.TypeinfoNameSymbol {
				changes[i].Where = "typeinfo name"
			}
		}
		if k != c.Kind {
			changes[i].Kind = k
			changes[i].Type = n.Entity
		}
	}
	return changes
}

// variantRank orders constructor and destructor variants: the
// complete-object one first, so it names a grouped change.
func variantRank(v string) int {
	if i := strings.Index("C1C2C3C4C5CID1D0D2D4D5", v); v != "" && i >= 0 {
		return i
	}
	return 100
}

// maybeCtorDtor reports whether a mangled name may be a constructor or a
// destructor, whose <ctor-dtor-name> is C1 to C5, CI1, CI2 or D0 to D5: a
// name without any of those is neither. It spares demangling the names
// of tens of thousands of ordinary functions.
func maybeCtorDtor(name string) bool {
	for i := 0; i+1 < len(name); i++ {
		c := name[i+1]
		switch name[i] {
		case 'C':
			if c >= '1' && c <= '5' || c == 'I' {
				return true
			}
		case 'D':
			if c >= '0' && c <= '5' {
				return true
			}
		}
	}
	return false
}

// groupVariants merges the changes to the variants of one constructor or
// destructor (C1 and C2, D0, D1 and D2…) into one change whose Affected
// lists every variant and whose Symbol is the complete-object variant.
// A removed constructor or destructor gets its own kind.
func groupVariants(changes []Change) []Change {
	first := make(map[string]int)
	drop := make(map[int]bool)
	for i, c := range changes {
		if c.Symbol == "" || c.Type != "" || !maybeCtorDtor(c.Symbol) {
			continue
		}
		n := cxxNameOf(c.Symbol)
		if n.CtorDtor == 0 || n.Special != cxx.Plain {
			continue
		}
		if c.Kind == SymbolRemoved {
			changes[i].Kind = CXXCtorRemoved
			if n.CtorDtor == 'D' {
				changes[i].Kind = CXXDtorRemoved
			}
			c = changes[i]
		}
		key := string(c.Kind) + "\x00" + n.Entity + n.ParamList() + "\x00" + symVersion(c.Symbol) + "\x00" + c.Old + "\x00" + c.New
		j, ok := first[key]
		if !ok {
			first[key] = i
			continue
		}
		g := &changes[j]
		g.Affected = append(g.Affected, c.Affected...)
		if variantRank(n.Variant) < variantRank(cxxNameOf(g.Symbol).Variant) {
			g.Symbol = c.Symbol
		}
		drop[i] = true
	}
	out := changes[:0]
	for i, c := range changes {
		if drop[i] {
			continue
		}
		if len(c.Affected) > 1 && maybeCtorDtor(c.Symbol) && hasKey(first, variantKey(c)) {
			slices.Sort(c.Affected)
			c.Affected = slices.Compact(c.Affected)
			c.Detail = variantDetail(c)
		} else if c.Kind == CXXCtorRemoved || c.Kind == CXXDtorRemoved {
			c.Detail = variantDetail(c)
		}
		out = append(out, c)
	}
	return out
}

func variantKey(c Change) string {
	if c.Symbol == "" {
		return ""
	}
	n := cxxNameOf(c.Symbol)
	return string(c.Kind) + "\x00" + n.Entity + n.ParamList() + "\x00" + symVersion(c.Symbol) + "\x00" + c.Old + "\x00" + c.New
}

// variantDetail describes a grouped change with its variants.
func variantDetail(c Change) string {
	n := cxxNameOf(c.Symbol)
	what := "constructor"
	if n.CtorDtor == 'D' {
		what = "destructor"
	}
	var vs []string
	for _, s := range c.Affected {
		vs = append(vs, cxxNameOf(s).Variant)
	}
	slices.SortFunc(vs, func(a, b string) int { return cmp.Compare(variantRank(a), variantRank(b)) })
	variants := strings.Join(vs, ", ")
	switch c.Kind {
	case CXXCtorRemoved, CXXDtorRemoved:
		return fmt.Sprintf("%s %s removed (variants %s)", what, n.Signature(), variants)
	case SymbolAdded:
		return fmt.Sprintf("%s %s added (variants %s)", what, n.Signature(), variants)
	}
	return c.Detail + " (variants " + variants + ")"
}

// thunkAdjustment spells the this-adjustment encoded in a thunk's mangled
// name (Itanium C++ ABI §5.1.4.4): "_ZThn16_…" is "-16"; "_ZTv0_n24_…" is
// "offset 0, vcall offset at -24". Empty when the name is not a thunk.
func thunkAdjustment(sym string) string {
	num := func(s string) (string, string, bool) {
		neg := strings.HasPrefix(s, "n")
		s = strings.TrimPrefix(s, "n")
		i := strings.IndexByte(s, '_')
		if i <= 0 {
			return "", "", false
		}
		if neg {
			return "-" + s[:i], s[i+1:], true
		}
		return s[:i], s[i+1:], true
	}
	switch {
	case strings.HasPrefix(sym, "_ZTh"):
		if v, _, ok := num(sym[4:]); ok {
			return v
		}
	case strings.HasPrefix(sym, "_ZTv"):
		if v, rest, ok := num(sym[4:]); ok {
			if w, _, ok := num(rest); ok {
				return "offset " + v + ", vcall offset at " + w
			}
		}
	}
	return ""
}
