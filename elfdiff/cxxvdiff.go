package elfdiff

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// maxLCSCells bounds the work of aligning two vtables slot by slot; larger
// tables are compared position by position.
const maxLCSCells = 1 << 20

// A slotID is a vtable slot as the comparison sees it: the virtual
// function's identity, independent of the class that implements it, and
// its implementation.
type slotID struct {
	key  string // "f(int) const", "~(D1)", "<pure>#0", "?#1"
	impl string // the implementing function, demangled: "Base::f(int) const"
	sym  string // the target symbol, "" when unnamed
	pure bool   // __cxa_pure_virtual
	null bool   // a null pointer: GCC leaves the destructor slots of abstract classes empty
}

func slotIDs(slots []Slot, names cxxNames) []slotID {
	out := make([]slotID, len(slots))
	pure, deleted, unknown := 0, 0, 0
	for i, s := range slots {
		switch {
		case s.Target == "" && s.Addr == 0:
			out[i] = slotID{key: fmt.Sprintf("<null>#%d", i), impl: "a null pointer", null: true}
		case s.Target == "":
			out[i] = slotID{key: fmt.Sprintf("?#%d", unknown), impl: fmt.Sprintf("unnamed function at %#x", s.Addr)}
			unknown++
		case s.Target == "__cxa_pure_virtual":
			out[i] = slotID{key: fmt.Sprintf("<pure>#%d", pure), impl: "__cxa_pure_virtual", sym: s.Target, pure: true}
			pure++
		case s.Target == "__cxa_deleted_virtual":
			out[i] = slotID{key: fmt.Sprintf("<deleted>#%d", deleted), impl: "__cxa_deleted_virtual"}
			deleted++
		default:
			n := names.get(s.Target)
			if !n.Mangled() {
				out[i] = slotID{key: s.Target, impl: s.Target}
				continue
			}
			impl := n.Signature()
			switch n.Variant {
			case "D0":
				impl += " [deleting]"
			case "D1":
				impl += " [complete]"
			}
			out[i] = slotID{key: n.MethodKey(), impl: impl, sym: s.Target}
		}
	}
	return out
}

func vtablesOf(c *Corpus) map[string]*VTable {
	if c.CXX == nil {
		return nil
	}
	return c.CXX.VTables
}

// A vdiffer compares the vtables of two versions.
type vdiffer struct {
	names    cxxNames
	old, new *Corpus
	// virtual holds, per version, the symbols some vtable slot calls.
	oldVirtual, newVirtual map[string]bool
}

func virtualTargets(c *Corpus) map[string]bool {
	m := make(map[string]bool)
	for _, vt := range vtablesOf(c) {
		for _, t := range vt.Tables {
			for _, s := range t.Slots {
				if s.Target != "" {
					m[s.Target] = true
				}
			}
		}
	}
	return m
}

// becameVirtual reports whether sym, called by a new slot, is a function
// the old version exported without any vtable calling it.
func (d *vdiffer) becameVirtual(sym string) bool {
	return sym != "" && d.old.exports(sym) && !d.oldVirtual[sym]
}

// becameNonVirtual reports whether sym, called by an old slot, is still
// exported by the new version but no vtable calls it.
func (d *vdiffer) becameNonVirtual(sym string) bool {
	return sym != "" && d.new.exports(sym) && !d.newVirtual[sym]
}

// diffVTables compares the vtables both versions export under one name
// (CXXTables). Each change names its class in Type; cxxPass fills in the
// affected members.
func diffVTables(old, new *Corpus, names cxxNames) []Change {
	d := &vdiffer{names: names, old: old, new: new}
	var keys []string
	for k := range vtablesOf(old) {
		if _, ok := vtablesOf(new)[k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Change
	for _, k := range keys {
		o, n := vtablesOf(old)[k], vtablesOf(new)[k]
		if o.Err != "" || n.Err != "" {
			continue
		}
		if d.oldVirtual == nil && !sameTables(o, n) {
			d.oldVirtual, d.newVirtual = virtualTargets(old), virtualTargets(new)
		}
		cs := d.diffVTable(o, n)
		if len(cs) == 0 {
			continue
		}
		for i := range cs {
			cs[i].Type = o.Class
		}
		out = append(out, cs...)
	}
	return out
}

// classMembers maps each class of need to the exported symbols of c that
// belong to it: its member functions, constructors, destructors, static
// data members, vtable, VTT and typeinfo. Every name is demangled, but
// only the members of the classes asked for are kept.
func classMembers(c *Corpus, need map[string]bool) map[string][]string {
	m := make(map[string][]string)
	for _, s := range c.Symbols() {
		if !strings.HasPrefix(s.Name, "_Z") {
			continue
		}
		n := ParseCXXName(s.Name)
		class := ""
		switch n.Special {
		case CXXPlain, CXXThunk, CXXVirtualThunk, CXXCovariant:
			class = n.Scope
		case CXXVTable, CXXVTT, CXXTypeinfo, CXXTypeinfoName:
			class = n.Entity
		}
		if class != "" && need[class] {
			m[class] = append(m[class], s.String())
		}
	}
	return m
}

// sameTables reports whether two vtable groups have identical contents
// (by symbol: the common case, decided without demangling).
func sameTables(o, n *VTable) bool {
	if len(o.Tables) != len(n.Tables) {
		return false
	}
	for i := range o.Tables {
		a, b := o.Tables[i], n.Tables[i]
		if a.OffsetToTop != b.OffsetToTop || a.RTTI != b.RTTI || !slices.Equal(a.Offsets, b.Offsets) || len(a.Slots) != len(b.Slots) {
			return false
		}
		for j := range a.Slots {
			if a.Slots[j].Target != b.Slots[j].Target || (a.Slots[j].Target == "" && (a.Slots[j].Addr == 0) != (b.Slots[j].Addr == 0)) {
				return false
			}
		}
	}
	return true
}

// diffVTable compares one class's vtable group.
func (d *vdiffer) diffVTable(o, n *VTable) []Change {
	if sameTables(o, n) {
		return nil
	}
	var out []Change
	if len(o.Tables) != len(n.Tables) {
		out = append(out, Change{Kind: VTableLayoutChanged, Symbol: "", Where: "vtable group",
			Old: fmt.Sprintf("%d vtables", len(o.Tables)), New: fmt.Sprintf("%d vtables", len(n.Tables)),
			Detail: fmt.Sprintf("the vtable group of %s now has %d vtables instead of %d (base classes changed)",
				o.Class, len(n.Tables), len(o.Tables))})
	}
	for t := 0; t < len(o.Tables) && t < len(n.Tables); t++ {
		ot, nt := o.Tables[t], n.Tables[t]
		where := ""
		if t > 0 {
			where = fmt.Sprintf("secondary vtable %d, ", t)
		}
		if t > 0 && ot.OffsetToTop != nt.OffsetToTop {
			out = append(out, Change{Kind: VTableLayoutChanged, Where: strings.TrimSuffix(where, ", "),
				Old: fmt.Sprintf("offset-to-top %d", ot.OffsetToTop), New: fmt.Sprintf("offset-to-top %d", nt.OffsetToTop),
				Detail: fmt.Sprintf("a base subobject of %s moved from offset %d to %d", o.Class, -ot.OffsetToTop, -nt.OffsetToTop)})
		}
		if !slices.Equal(ot.Offsets, nt.Offsets) {
			out = append(out, Change{Kind: VTableLayoutChanged, Where: where + "virtual base and call offsets",
				Old: fmt.Sprint(ot.Offsets), New: fmt.Sprint(nt.Offsets),
				Detail: fmt.Sprintf("the virtual-base and virtual-call offsets of %s changed from %v to %v", o.Class, ot.Offsets, nt.Offsets)})
		}
		if t > 0 && len(o.Tables) != len(n.Tables) {
			continue // secondary tables no longer correspond
		}
		out = append(out, d.diffSlots(o.Class, where, slotIDs(ot.Slots, d.names), slotIDs(nt.Slots, d.names))...)
	}
	return out
}

// diffSlots aligns two vtables' slots by virtual-function identity (a
// longest common subsequence) and names each difference: a function in
// neither alignment nor the other table was removed or added (appended
// when every old slot keeps its place, inserted otherwise); one in both
// tables but outside the alignment moved; a removed and an added function
// in the same slot are a replacement (or the function became pure); an
// aligned slot whose implementation changed class was overridden.
func (d *vdiffer) diffSlots(class, where string, o, n []slotID) []Change {
	if slices.Equal(o, n) {
		return nil
	}
	// A null slot is never called (it is the destructor of an abstract
	// class, whose complete objects do not exist): it matches whatever the
	// other version has in the same slot.
	o, n = slices.Clone(o), slices.Clone(n)
	for i := 0; i < len(o) && i < len(n); i++ {
		switch {
		case o[i].null && !n[i].null:
			o[i] = n[i]
		case n[i].null && !o[i].null:
			n[i] = o[i]
		}
	}
	match := alignSlots(o, n) // old index → new index, -1 when unaligned
	inNew := make(map[string]int, len(n))
	for j, s := range n {
		inNew[s.key] = j
	}
	inOld := make(map[string]int, len(o))
	for i, s := range o {
		inOld[s.key] = i
	}
	newAligned := make([]bool, len(n))
	for _, j := range match {
		if j >= 0 {
			newAligned[j] = true
		}
	}
	prefixKept := len(n) >= len(o)
	for i := range o {
		if !prefixKept || o[i].key != n[i].key {
			prefixKept = false
			break
		}
	}
	slot := func(i int) string { return fmt.Sprintf("%sslot %d", where, i) }
	var out []Change
	consumed := make([]bool, len(n))
	for i, s := range o {
		j := match[i]
		switch {
		case j >= 0:
			// Unnamed targets (local functions of a stripped library)
			// have no identity to compare beyond their position.
			if s.impl != n[j].impl && !s.pure && !n[j].pure && s.sym != "" && n[j].sym != "" {
				out = append(out, Change{Kind: VirtualOverridden, Where: slot(j), Old: s.impl, New: n[j].impl,
					Detail: fmt.Sprintf("%s of %s now calls %s instead of %s", slot(j), class, n[j].impl, s.impl)})
			}
		case hasKey(inNew, s.key):
			j := inNew[s.key]
			consumed[j] = true
			out = append(out, Change{Kind: VirtualMoved, Where: slot(i), Old: slot(i), New: slot(j),
				Detail: fmt.Sprintf("virtual %s of %s moved from %s to %s", s.impl, class, slot(i), slot(j))})
		case i < len(n) && !newAligned[i] && !consumed[i] && !hasKey(inOld, n[i].key):
			consumed[i] = true
			k := VirtualReplaced
			detail := fmt.Sprintf("%s of %s now holds %s instead of %s", slot(i), class, n[i].impl, s.impl)
			switch {
			case n[i].pure && !s.pure:
				k = VirtualBecamePure
				detail = fmt.Sprintf("virtual %s of %s became pure (%s)", s.impl, class, slot(i))
			case s.pure && !n[i].pure:
				k = VirtualBecameConcrete
				detail = fmt.Sprintf("pure virtual %s of %s is now implemented by %s", slot(i), class, n[i].impl)
			}
			out = append(out, Change{Kind: k, Where: slot(i), Old: s.impl, New: n[i].impl, Detail: detail})
		case d.becameNonVirtual(s.sym):
			out = append(out, Change{Kind: MethodBecameNonVirtual, Where: slot(i), Old: s.impl,
				Detail: fmt.Sprintf("%s is no longer virtual: %s of %s is gone", s.impl, slot(i), class)})
		default:
			out = append(out, Change{Kind: VirtualRemoved, Where: slot(i), Old: s.impl,
				Detail: fmt.Sprintf("virtual %s removed from %s (%s)", s.impl, class, slot(i))})
		}
	}
	for j, s := range n {
		if newAligned[j] || consumed[j] || hasKey(inOld, s.key) {
			continue
		}
		if d.becameVirtual(s.sym) {
			out = append(out, Change{Kind: MethodBecameVirtual, Where: slot(j), New: s.impl,
				Detail: fmt.Sprintf("%s became virtual, in %s of %s", s.impl, slot(j), class)})
			continue
		}
		if prefixKept && j >= len(o) {
			out = append(out, Change{Kind: VirtualAppended, Where: slot(j), New: s.impl,
				Detail: fmt.Sprintf("virtual %s added to %s after its last slot (%s)", s.impl, class, slot(j))})
			continue
		}
		out = append(out, Change{Kind: VirtualInserted, Where: slot(j), New: s.impl,
			Detail: fmt.Sprintf("virtual %s inserted into %s at %s", s.impl, class, slot(j))})
	}
	if onlyKinds(out, VirtualMoved, VirtualOverridden) {
		// A pure permutation: slots the alignment kept also changed place,
		// and no insertion or removal explains it.
		for i, j := range match {
			if j >= 0 && j != i {
				out = append(out, Change{Kind: VirtualMoved, Where: slot(i), Old: slot(i), New: slot(j),
					Detail: fmt.Sprintf("virtual %s of %s moved from %s to %s", o[i].impl, class, slot(i), slot(j))})
			}
		}
	}
	return out
}

func onlyKinds(cs []Change, kinds ...Kind) bool {
	for _, c := range cs {
		if !slices.Contains(kinds, c.Kind) {
			return false
		}
	}
	return true
}

func hasKey(m map[string]int, k string) bool { _, ok := m[k]; return ok }

// alignSlots returns, for each old slot, the index of the new slot it is
// aligned with in a longest common subsequence of the slot keys, or -1.
// Tables too large for the quadratic table are aligned by position.
func alignSlots(o, n []slotID) []int {
	match := make([]int, len(o))
	for i := range match {
		match[i] = -1
	}
	if len(o)*len(n) > maxLCSCells {
		for i := 0; i < len(o) && i < len(n); i++ {
			if o[i].key == n[i].key {
				match[i] = i
			}
		}
		return match
	}
	// lcs[i][j] = length of the LCS of o[i:] and n[j:].
	w := len(n) + 1
	lcs := make([]int, (len(o)+1)*w)
	for i := len(o) - 1; i >= 0; i-- {
		for j := len(n) - 1; j >= 0; j-- {
			if o[i].key == n[j].key {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	for i, j := 0, 0; i < len(o) && j < len(n); {
		switch {
		case o[i].key == n[j].key:
			match[i] = j
			i++
			j++
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			i++
		default:
			j++
		}
	}
	return match
}
