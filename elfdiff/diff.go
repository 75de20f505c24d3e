package elfdiff

import (
	"debug/elf"
	"fmt"
	"slices"
	"sort"
)

// Diff compares two corpora and returns their differences, in a stable
// order. It fails only when the two cannot be compared at all: ELF objects
// of different classes (32-bit against 64-bit) describe different programs.
func Diff(old, new *Corpus) ([]Change, error) {
	if old.Class != new.Class {
		return nil, fmt.Errorf("cannot compare %s (%s) with %s (%s): different ELF classes",
			old.Path, classBits(old), new.Path, classBits(new))
	}
	var d differ
	d.library(old, new)
	d.symbols(old, new)
	d.changes = cxxPass(old, new, d.changes)
	inlineRemoved(old, d.changes)
	if old.Debug != nil && new.Debug != nil {
		d.changes = dedupCXX(d.changes, diffDebug(old, new))
	}
	return d.changes, nil
}

func classBits(c *Corpus) string {
	if c.Class == elf.ELFCLASS32 {
		return "32-bit"
	}
	return "64-bit"
}

// differ accumulates changes.
type differ struct {
	changes []Change
}

func (d *differ) add(c Change) { d.changes = append(d.changes, c) }

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
	// accounted holds new symbols already explained by a change to an old
	// one, so they are not reported again as added.
	accounted := make(map[string]bool)
	for _, o := range old.Symbols {
		if n, ok := new.Lookup(o.Key()); ok {
			accounted[n.Key()] = true
			d.symbol(o, n)
			continue
		}
		same := new.ByName(o.Name)
		switch {
		case len(same) > 0 && o.Version == "":
			n := preferDefault(same)
			accounted[n.Key()] = true
			d.add(symChange(SymbolVersioned, o, o.String(), n.String(),
				fmt.Sprintf("%s is now versioned as %s", o, n)))
			d.symbol(o, n)
		case len(same) > 0:
			n := preferDefault(same)
			accounted[n.Key()] = true
			d.add(symChange(SymbolVersionChanged, o, o.String(), n.String(),
				fmt.Sprintf("%s is gone; the symbol is now %s", o, n)))
		case new.Hidden[o.Name]:
			d.add(symChange(SymbolHidden, o, "", "",
				fmt.Sprintf("%s is still defined but no longer exported (hidden or local)", o)))
		default:
			d.add(symChange(SymbolRemoved, o, "", "", fmt.Sprintf("%s %s removed", symKind(o), o)))
		}
	}
	for _, n := range new.Symbols {
		if !accounted[n.Key()] {
			d.add(symChange(SymbolAdded, n, "", "", fmt.Sprintf("%s %s added", symKind(n), n)))
		}
	}
}

// symbol compares the attributes of one symbol present in both versions.
func (d *differ) symbol(o, n Symbol) {
	if o.Default && !n.Default && n.Version != "" {
		d.add(symChange(SymbolDefaultVersion, o, o.String(), n.String(),
			fmt.Sprintf("%s is no longer the default version; it remains as %s", o, n)))
	}
	if o.Type != n.Type {
		d.add(symChange(SymbolTypeChanged, o, symKind(o), symKind(n),
			fmt.Sprintf("%s changed from %s to %s", o, symKind(o), symKind(n))))
		return // size and the rest are not comparable across kinds
	}
	if isData(o) && o.Size != n.Size {
		d.add(symChange(SymbolSizeChanged, o, fmt.Sprint(o.Size), fmt.Sprint(n.Size),
			fmt.Sprintf("size of %s changed from %d to %d bytes", o, o.Size, n.Size)))
	}
	if o.Bind != n.Bind {
		d.add(symChange(SymbolBindingChanged, o, bindName(o), bindName(n),
			fmt.Sprintf("binding of %s changed from %s to %s", o, bindName(o), bindName(n))))
	}
	if o.Visibility != n.Visibility {
		d.add(symChange(SymbolVisibilityMoved, o, visName(o), visName(n),
			fmt.Sprintf("visibility of %s changed from %s to %s", o, visName(o), visName(n))))
	}
}

func symChange(k Kind, s Symbol, old, new, detail string) Change {
	name := s.String()
	if old == name {
		old = name // one copy of the name, not two, in each of 50,000 findings
	}
	return Change{Kind: k, Symbol: name, SymbolType: symKind(s), Old: old, New: new,
		Affected: []string{name}, Detail: detail}
}

// preferDefault returns the default version among symbols of one name, or
// the first.
func preferDefault(syms []Symbol) Symbol {
	for _, s := range syms {
		if s.Default {
			return s
		}
	}
	return syms[0]
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
