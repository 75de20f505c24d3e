package elfdiff

// This file compares what C++ adds to two classes of one qualified name,
// from DWARF: the vtable pointer, base classes, access, and — for classes
// whose vtable neither library exports — virtual methods by their slots.

import (
	"github.com/compatgate/compatgate/elfdiff/abi"
	"github.com/compatgate/compatgate/elfdiff/cxx"

	"fmt"
	"slices"
	"strings"
)

// vtableClasses returns the classes whose vtable both corpora export, each
// with the slots of its primary vtable that hold __cxa_pure_virtual in
// either (nil when none does).
func vtableClasses(old, new *Corpus) map[string]map[int64]bool {
	out := make(map[string]map[int64]bool)
	if old.CXX == nil || new.CXX == nil {
		return out
	}
	inOld := make(map[string]*cxx.VTable)
	for _, v := range old.CXX.VTables {
		inOld[v.Class] = v
	}
	for _, v := range new.CXX.VTables {
		o, ok := inOld[v.Class]
		if !ok {
			continue
		}
		var pure map[int64]bool
		for _, t := range []*cxx.VTable{o, v} {
			if len(t.Tables) == 0 {
				continue
			}
			for i, s := range t.Tables[0].Slots {
				if s.Target == "__cxa_pure_virtual" {
					if pure == nil {
						pure = make(map[int64]bool)
					}
					pure[int64(i)] = true
				}
			}
		}
		out[v.Class] = pure
	}
	return out
}

// class compares the C++ parts of the classes of nd.
func (d *typeDiffer) class(nd *node) {
	oc, nc := nd.o.Class, nd.n.Class
	if oc.VPtr != nc.VPtr {
		k, what := ClassVPtrAdded, "now holds a vtable pointer (its first virtual method): every member moved"
		if oc.VPtr {
			k, what = ClassVPtrRemoved, "no longer holds a vtable pointer: every member moved"
		}
		nd.add(k, "vptr", fmt.Sprint(oc.VPtr), fmt.Sprint(nc.VPtr), 0, nd.name+" "+what)
	}
	d.bases(nd, oc, nc)
	d.access(nd, oc, nc)
	// The ELF side compares the slots of an exported vtable, but a pure
	// virtual slot holds __cxa_pure_virtual whatever method it stands
	// for: pure methods swapped in a client-implemented interface leave
	// the exported vtable as it was. DWARF compares those.
	pure, exported := d.elfVTables[nd.name]
	if oc.VPtr == nc.VPtr && (!exported || pure != nil) {
		d.virtuals(nd, oc, nc, pure)
	}
}

// bases compares the direct base classes, matched by name.
func (d *typeDiffer) bases(nd *node, oc, nc *abi.ClassInfo) {
	newAt := make(map[string]int, len(nc.Bases))
	for j, b := range nc.Bases {
		newAt[b.Type.Strip().BaseNameOrVoid()] = j
	}
	seen := make(map[string]bool, len(oc.Bases))
	var removed []abi.Base
	for _, ob := range oc.Bases {
		name := ob.Type.Strip().BaseNameOrVoid()
		seen[name] = true
		w := "base " + name
		j, ok := newAt[name]
		if !ok {
			removed = append(removed, ob)
			continue
		}
		nb := nc.Bases[j]
		switch {
		case ob.Virtual != nb.Virtual:
			nd.add(TypeinfoBaseVirtual, w, virtualWord(ob.Virtual), virtualWord(nb.Virtual), 0,
				fmt.Sprintf("base %s of %s became %s", name, nd.name, virtualWord(nb.Virtual)))
		case ob.Offset != nb.Offset:
			nd.add(TypeinfoBaseMoved, w, fmt.Sprint(ob.Offset), fmt.Sprint(nb.Offset), 0,
				fmt.Sprintf("base %s of %s moved from offset %d to %d", name, nd.name, ob.Offset, nb.Offset))
		}
		if (ob.Access == abi.AccessPublic) != (nb.Access == abi.AccessPublic) {
			nd.add(TypeinfoBaseAccess, w, ob.Access.String(), nb.Access.String(), 0,
				fmt.Sprintf("base %s of %s became %s", name, nd.name, nb.Access))
		}
		if os, ns := ob.Type.Strip(), nb.Type.Strip(); os != nil && ns != nil {
			d.link(nd, []edge{{to: d.node(os, ns, name), label: w}})
		}
	}
	var added []abi.Base
	for _, nb := range nc.Bases {
		if !seen[nb.Type.Strip().BaseNameOrVoid()] {
			added = append(added, nb)
		}
	}
	// A base removed and another added in its place (same offset and
	// virtuality) replaced it; an empty base replaced by an empty instance
	// of another template with the same arguments (std::allocator's
	// __gnu_cxx::new_allocator<T> became std::__new_allocator<T>) changes
	// nothing in the layout.
	for _, ob := range removed {
		name := ob.Type.Strip().BaseNameOrVoid()
		j := slices.IndexFunc(added, func(nb abi.Base) bool { return nb.Offset == ob.Offset && nb.Virtual == ob.Virtual })
		if j < 0 {
			nd.add(TypeinfoBaseRemoved, "base "+name, name, "", 0, fmt.Sprintf("%s no longer derives from %s", nd.name, name))
			continue
		}
		nb := added[j]
		added = slices.Delete(added, j, j+1)
		nn := nb.Type.Strip().BaseNameOrVoid()
		var f Facts
		if abi.IsEmptyClass(ob.Type) && abi.IsEmptyClass(nb.Type) && sameTemplateArgs(name, nn) {
			f = FactSameRepr
		}
		nd.add(TypeinfoBaseReplaced, "base "+name, name, nn, f,
			fmt.Sprintf("base %s of %s replaced by %s at offset %d", name, nd.name, nn, nb.Offset))
	}
	_, holders := hoistedMembers(nd.o, nd.n)
	for _, nb := range added {
		name := nb.Type.Strip().BaseNameOrVoid()
		var f Facts
		detail := fmt.Sprintf("%s now derives from %s", nd.name, name)
		if holders[name] {
			f = FactSameRepr
			detail += ", which holds members the class had at the same offsets: the layout is unchanged"
		}
		nd.add(TypeinfoBaseAdded, "base "+name, "", name, f, detail)
	}
}

// hoistedMembers finds data members of o that n holds in a new
// non-virtual base instead, at the same offset and of the same type, when
// the size did not change: the members were moved into a base class and
// the layout is what it was. It returns the names of those members, and
// the new bases every member of which is such a member.
func hoistedMembers(o, n *abi.Type) (members, bases map[string]bool) {
	if o.Class == nil || n.Class == nil || o.Sizeof() != n.Sizeof() {
		return nil, nil
	}
	old := make(map[string]abi.Member, len(o.Members))
	for _, m := range o.Members {
		if m.Name != "" {
			old[m.Name] = m
		}
	}
	inOld := make(map[string]bool, len(o.Class.Bases))
	for _, b := range o.Class.Bases {
		inOld[b.Type.Strip().BaseNameOrVoid()] = true
	}
	for _, b := range n.Class.Bases {
		bt := b.Type.Strip()
		if b.Virtual || bt == nil || inOld[bt.BaseNameOrVoid()] || len(bt.Members) == 0 {
			continue
		}
		all := true
		for _, bm := range bt.Members {
			om, ok := old[bm.Name]
			if !ok || om.Offset != b.Offset+bm.Offset || om.BitSize != bm.BitSize || !sameShape(om.Type, bm.Type) {
				all = false
				continue
			}
			if members == nil {
				members, bases = make(map[string]bool), make(map[string]bool)
			}
			members[bm.Name] = true
		}
		if all && bases != nil {
			bases[bt.BaseNameOrVoid()] = true
		}
	}
	return members, bases
}

// sameTemplateArgs reports whether two template instances have the same
// argument list: new_allocator<char> and __new_allocator<char>.
func sameTemplateArgs(a, b string) bool {
	i, j := strings.IndexByte(a, '<'), strings.IndexByte(b, '<')
	return i > 0 && j > 0 && a[i:] == b[j:]
}

func (d *typeDiffer) access(nd *node, oc, nc *abi.ClassInfo) {
	exists := func(c *abi.ClassInfo, t *abi.Type) map[string]bool {
		m := make(map[string]bool)
		for _, x := range t.Members {
			if x.Name != "" {
				m["member "+x.Name] = true
			}
		}
		for _, x := range c.Methods {
			if !x.Artificial {
				m[x.Key()] = true
			}
		}
		return m
	}
	inOld, inNew := exists(oc, nd.o), exists(nc, nd.n)
	get := func(c *abi.ClassInfo, k string) abi.Access {
		if a, ok := c.Access[k]; ok {
			return a
		}
		return abi.AccessPublic
	}
	keys := make(map[string]bool)
	for k := range oc.Access {
		keys[k] = true
	}
	for k := range nc.Access {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		if !inOld[k] || !inNew[k] {
			continue
		}
		if ao, an := get(oc, k), get(nc, k); ao != an {
			w := k
			if !strings.HasPrefix(k, "member ") {
				w = "method " + methodLabel(nc, k)
			}
			nd.add(AccessChanged, w, ao.String(), an.String(), 0,
				fmt.Sprintf("%s of %s became %s (was %s): access is not part of the binary interface", w, nd.name, an, ao))
		}
	}
}

func methodLabel(c *abi.ClassInfo, key string) string {
	for _, m := range c.Methods {
		if m.Key() == key {
			return m.Signature()
		}
	}
	return key
}

// virtuals compares the virtual methods of a class by their vtable slots
// (DW_AT_vtable_elem_location), for classes whose vtable the ELF side
// cannot compare: abstract interfaces, classes without a key function.
//
// GCC leaves out of a class's DWARF the virtual methods a compilation
// unit neither defines nor uses when the class's vtable is not emitted
// there, so a method missing on one side is not proof of its removal: the
// slots are compared only when both sides list every slot up to their
// last one.
//
// When pure is set (the ELF side compares the class's exported vtable),
// only changes at those slots, which hold __cxa_pure_virtual, are
// reported.
func (d *typeDiffer) virtuals(nd *node, oc, nc *abi.ClassInfo, pure map[int64]bool) {
	if !abi.CompleteSlots(oc) || !abi.CompleteSlots(nc) {
		return
	}

	index := func(c *abi.ClassInfo) (map[string]abi.Method, int64) {
		byKey := make(map[string]abi.Method)
		var slots int64
		for _, m := range c.Methods {
			byKey[m.Key()] = m
			if m.Virtuality != abi.VirtualityNone && m.Slot+1 > slots {
				slots = m.Slot + 1
			}
		}
		return byKey, slots
	}
	om, oslots := index(oc)
	nm, _ := index(nc)
	isVirt := func(m abi.Method) bool { return m.Virtuality != abi.VirtualityNone }
	for _, o := range oc.Methods {
		n, ok := nm[o.Key()]
		if !ok && !isVirt(o) || ok && o.Virtuality == n.Virtuality && o.Slot == n.Slot {
			continue // the common case: nothing to report, no name to build
		}
		if pure != nil && !pure[o.Slot] && (!ok || !pure[n.Slot]) {
			continue // the ELF side sees it
		}
		where := "method " + o.Signature()
		switch {
		case !ok && isVirt(o) && o.Slot >= 0:
			nd.add(VirtualRemoved, fmt.Sprintf("slot %d", o.Slot), o.Signature(), "", 0,
				fmt.Sprintf("virtual %s removed from %s (slot %d)", o.Signature(), nd.name, o.Slot))
		case !ok:
		case isVirt(o) && !isVirt(n):
			nd.add(MethodBecameNonVirtual, where, "virtual", "non-virtual", 0,
				fmt.Sprintf("%s::%s is no longer virtual", nd.name, o.Signature()))
		case !isVirt(o) && isVirt(n):
			nd.add(MethodBecameVirtual, where, "non-virtual", "virtual", 0,
				fmt.Sprintf("%s::%s became virtual", nd.name, o.Signature()))
		case isVirt(o) && o.Slot >= 0 && n.Slot >= 0 && o.Slot != n.Slot:
			nd.add(VirtualMoved, fmt.Sprintf("slot %d", o.Slot), fmt.Sprint(o.Slot), fmt.Sprint(n.Slot), 0,
				fmt.Sprintf("virtual %s of %s moved from slot %d to slot %d", o.Signature(), nd.name, o.Slot, n.Slot))
		case o.Virtuality != n.Virtuality && n.Virtuality == abi.VirtualityPure:
			nd.add(VirtualBecamePure, fmt.Sprintf("slot %d", n.Slot), o.Signature(), "__cxa_pure_virtual", 0,
				fmt.Sprintf("virtual %s of %s became pure (slot %d)", o.Signature(), nd.name, n.Slot))
		case o.Virtuality != n.Virtuality:
			nd.add(VirtualBecameConcrete, fmt.Sprintf("slot %d", n.Slot), "__cxa_pure_virtual", n.Signature(), 0,
				fmt.Sprintf("pure virtual %s of %s is no longer pure (slot %d)", n.Signature(), nd.name, n.Slot))
		}
	}
	for _, n := range nc.Methods {
		if _, ok := om[n.Key()]; ok || !isVirt(n) || n.Slot < 0 || pure != nil && !pure[n.Slot] {
			continue
		}
		var f Facts
		if n.Virtuality == abi.VirtualityPure {
			f = FactPure
		}
		k, how := VirtualAppended, "added after its last slot"
		if n.Slot < oslots {
			k, how = VirtualInserted, "inserted"
		}
		nd.add(k, fmt.Sprintf("slot %d", n.Slot), "", n.Signature(), f,
			fmt.Sprintf("virtual %s %s into %s (slot %d)", n.Signature(), how, nd.name, n.Slot))
	}
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
