package elfdiff

import (
	"github.com/compatgate/compatgate/elfdiff/cxx"
	"github.com/compatgate/compatgate/elfdiff/elfsym"

	"debug/elf"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Diff compares two corpora and returns their differences, in a stable
// order. It fails only when the two cannot be compared at all: ELF objects
// of different classes (32-bit against 64-bit) describe different programs.
func Diff(old, new *Corpus) (*Changes, error) { return DiffWith(old, new, DiffOptions{}) }

// DiffOptions tune DiffWith.
type DiffOptions struct {
	// Consume hands both corpora over to DiffWith, which may then drop
	// the parts it is done with while it runs: the C++ virtual tables,
	// once compared, before the symbol changes accumulate. The report is
	// the same; the corpora must not be compared or written again. It
	// lowers the peak memory of a check of a big C++ library (libLLVM's
	// tables are 3 MiB of its 14).
	Consume bool
}

// DiffWith is Diff with options.
func DiffWith(old, new *Corpus, opts DiffOptions) (*Changes, error) {
	if old.Class != new.Class {
		return nil, fmt.Errorf("cannot compare %s (%s) with %s (%s): different ELF classes",
			old.Path, classBits(old), new.Path, classBits(new))
	}
	// The vtables are compared first, and what the comparison of the
	// debug information needs of them taken, so that a consuming diff
	// holds them no longer than that.
	vtables := diffVTables(old, new)
	debug := old.Debug != nil && new.Debug != nil
	var classes map[string]map[int64]bool
	if debug {
		classes = vtableClasses(old, new)
	}
	if opts.Consume {
		dropVTables(old)
		dropVTables(new)
	}
	d := differ{cs: Changes{old: old.symbols, new: new.symbols}}
	d.library(old, new)
	d.symbols(old, new)
	cs := &d.cs
	cs.list = cxxPass(old, new, cs.list, vtables)
	inlineRemoved(old, cs.list)
	if debug {
		cs.list = dedupCXX(cs.list, compareDecls(old, new, classes).finish())
	}
	return cs, nil
}

// dropVTables replaces the C++ tables of c with a copy without the
// vtables, the bulk of them, leaving the typeinfo objects.
func dropVTables(c *Corpus) {
	if c.CXX != nil {
		c.CXX = &cxx.Tables{Typeinfo: c.CXX.Typeinfo}
	}
}

func classBits(c *Corpus) string {
	if c.Class == elf.ELFCLASS32 {
		return "32-bit"
	}
	return "64-bit"
}

// differ accumulates changes.
type differ struct {
	cs Changes
}

func (d *differ) add(c Change) { d.cs.list = append(d.cs.list, c) }

// pair adds a change of kind k to the old symbol at index o, which is the
// new symbol at index n.
func (d *differ) pair(k pairKind, o, n int) {
	d.cs.pairs = append(d.cs.pairs, symbolPair{kind: k, old: int32(o), new: int32(n)})
}

func (d *differ) library(old, new *Corpus) {
	if old.Machine != new.Machine {
		d.add(Change{Kind: MachineChanged, Old: old.Machine.String(), New: new.Machine.String(),
			Detail: fmt.Sprintf("architecture changed from %s to %s", old.Machine, new.Machine)})
	}
	if old.SONAME != new.SONAME {
		d.add(Change{Kind: SonameChanged, Old: old.SONAME, New: new.SONAME,
			Detail: fmt.Sprintf("SONAME changed from %s to %s", orNone(old.SONAME), orNone(new.SONAME))})
	}
	removed, added := setDiff(old.Needed, new.Needed)
	for _, n := range removed {
		d.add(Change{Kind: NeededRemoved, Old: n, Detail: "no longer depends on " + n})
	}
	for _, n := range added {
		d.add(Change{Kind: NeededAdded, New: n, Detail: "now depends on " + n})
	}
	removed, added = setDiff(old.Versions, new.Versions)
	for _, v := range removed {
		d.add(Change{Kind: VersionNodeRemoved, Old: v, Detail: "version node " + v + " removed"})
	}
	for _, v := range added {
		d.add(Change{Kind: VersionNodeAdded, New: v, Detail: "version node " + v + " added"})
	}
}

func (d *differ) symbols(old, new *Corpus) {
	// accounted marks new symbols already explained by a change to an old
	// one, so they are not reported again as added.
	accounted := make([]bool, new.NumSymbols())
	for i, o := range old.Symbols() {
		if j, ok := new.lookup(o.Key()); ok {
			accounted[j] = true
			d.symbol(old, new, i, j)
			continue
		}
		first, end := new.symbols.ByName(o.Name)
		switch {
		case first < end && o.Version == "":
			j := preferDefault(&new.symbols, first, end)
			accounted[j] = true
			d.pair(pairVersioned, i, j)
			d.symbol(old, new, i, j)
		case first < end:
			j := preferDefault(&new.symbols, first, end)
			accounted[j] = true
			d.pair(pairVersionChanged, i, j)
		case new.Hidden[o.Name]:
			d.add(symChange(SymbolHidden, o, "", "",
				fmt.Sprintf("%s is still defined but no longer exported (hidden or local)", o)))
		default:
			c := symChange(SymbolRemoved, o, "", "", fmt.Sprintf("%s %s removed", elfsym.SymKind(o), o))
			if name := cxxBaseName(o.Name); name != "" && old.Headers != nil && !old.Headers.Mentions(name) {
				c.Facts |= FactPrivate
				c.Detail += "; the public headers never mention " + name
			}
			d.add(c)
		}
	}
	for j, n := range new.Symbols() {
		if !accounted[j] {
			d.add(symChange(SymbolAdded, n, "", "", fmt.Sprintf("%s %s added", elfsym.SymKind(n), n)))
		}
	}
}

// symbol compares the attributes of one symbol present in both versions:
// old.Symbol(i) and new.Symbol(j).
func (d *differ) symbol(old, new *Corpus, i, j int) {
	o, n := old.Symbol(i), new.Symbol(j)
	if o.Default && !n.Default && n.Version != "" {
		d.pair(pairDefaultVersion, i, j)
	}
	if o.Type != n.Type {
		d.pair(pairTypeChanged, i, j)
		return // size and the rest are not comparable across kinds
	}
	if elfsym.IsData(o) && o.Size != n.Size {
		d.add(symChange(SymbolSizeChanged, o, fmt.Sprint(o.Size), fmt.Sprint(n.Size),
			fmt.Sprintf("size of %s changed from %d to %d bytes", o, o.Size, n.Size)))
	}
	if o.Bind != n.Bind {
		d.pair(pairBindingChanged, i, j)
	}
	if o.Visibility != n.Visibility {
		d.pair(pairVisibilityMoved, i, j)
	}
}

func symChange(k Kind, s Symbol, old, new, detail string) Change {
	name := s.String()
	if old == name {
		old = name // one copy of the name, not two, in each of 50,000 findings
	}
	return Change{Kind: k, Symbol: name, SymbolType: elfsym.SymKind(s), Old: old, New: new,
		Affected: []string{name}, Detail: detail}
}

// cxxBaseName returns the unqualified name of the C++ function or
// variable a mangled symbol names ("MemCopy" for snappy::MemCopy(char*,
// …)); "" for C symbols, special members and operators. C names are left
// alone: headers often spell them through macros (pcre2_compile_8 is
// declared as pcre2_compile).
func cxxBaseName(sym string) string {
	if !strings.HasPrefix(sym, "_Z") {
		return ""
	}
	n := cxx.ParseName(sym)
	if n.Special != cxx.Plain || n.CtorDtor != 0 || !isIdent(n.Base) {
		return ""
	}
	return n.Base
}

// isIdent reports whether s is a C identifier (not an operator name, not
// a template instance).
func isIdent(s string) bool {
	if s == "" || strings.HasPrefix(s, "operator") {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// preferDefault returns the index of the default version among the
// symbols of one name first to end, or first.
func preferDefault(syms *elfsym.SymbolList, first, end int) int {
	for i := first; i < end; i++ {
		if syms.IsDefault(i) {
			return i
		}
	}
	return first
}

// setDiff returns the elements only in a and only in b, sorted.
func setDiff(a, b []string) (onlyA, onlyB []string) {
	for _, x := range a {
		if !slices.Contains(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return onlyA, onlyB
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
