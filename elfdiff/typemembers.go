package elfdiff

// This file compares the insides of two named types: the members of
// structs and unions, the enumerators of enums.

import (
	"github.com/compatgate/compatgate/elfdiff/abi"

	"fmt"
	"slices"
	"strings"
)

// aggregate compares two structs, unions or classes of one name.
func (d *typeDiffer) aggregate(nd *node) {
	o, n := nd.o, nd.n
	if o.Declaration || n.Declaration {
		if !o.Declaration && len(o.Members) > 0 {
			nd.add(TypeBecameOpaque, "", "complete", "declaration only", 0,
				nd.name+" is no longer defined, only declared")
		}
		return
	}
	var unionFact Facts
	if o.Kind == abi.UnionType {
		unionFact = FactUnion
	}
	var allocatable Facts
	if clientsCanCreate(o) && clientsCanCreate(n) {
		allocatable = FactAllocatable
	}
	var cxxFact Facts
	if o.Class != nil && n.Class != nil {
		cxxFact = FactCXXClass
	}
	if o.Class != nil && n.Class != nil {
		d.class(nd)
		if o.Class.Internal && n.Class.Internal {
			defer nd.markInternal()
		}
	}
	start := len(nd.local)
	so, sn := o.Sizeof(), n.Sizeof()
	if so != sn {
		f := FactSize | allocatable | unionFact | cxxFact
		detail := fmt.Sprintf("size of %s changed from %d to %d bytes", nd.name, so, sn)
		if sn > so {
			f |= FactGrew
			if v := versionMember(o, n); v != "" {
				f |= FactVersioned
				detail += "; it grew at its end and starts with " + v + ", which tells the library which members a client knows"
			}
		} else {
			f |= FactShrank
		}
		nd.add(TypeSizeChanged, "", fmt.Sprint(so), fmt.Sprint(sn), f, detail)
	}
	if ao, an := o.Alignof(), n.Alignof(); ao != an && ao > 0 && an > 0 {
		nd.add(TypeAlignmentChanged, "", fmt.Sprint(ao), fmt.Sprint(an), allocatable|unionFact,
			fmt.Sprintf("alignment of %s changed from %d to %d bytes", nd.name, ao, an))
	}
	pairs, removed, added := matchMembers(o.Members, n.Members)
	// Renamed: an unmatched old member and an unmatched new one at the same
	// place with the same type.
	var renamed [][2]int
	for i := 0; i < len(removed); i++ {
		om := o.Members[removed[i]]
		for j := 0; j < len(added); j++ {
			nm := n.Members[added[j]]
			if om.BitOffset == nm.BitOffset && om.BitSize == nm.BitSize && sameShape(om.Type, nm.Type) {
				renamed = append(renamed, [2]int{removed[i], added[j]})
				removed = slices.Delete(removed, i, i+1)
				added = slices.Delete(added, j, j+1)
				i--
				break
			}
		}
	}
	moved := false
	for _, p := range pairs {
		om, nm := o.Members[p[0]], n.Members[p[1]]
		w := memberWhere(om, p[0])
		switch {
		case om.BitSize > 0 || nm.BitSize > 0:
			if om.BitOffset != nm.BitOffset || om.BitSize != nm.BitSize {
				moved = moved || om.BitOffset != nm.BitOffset
				nd.add(BitfieldChanged, w, bits(om), bits(nm), unionFact,
					fmt.Sprintf("bit-field %s of %s changed from %s to %s", memberName(om, p[0]), nd.name, bits(om), bits(nm)))
			}
		case om.Offset != nm.Offset:
			moved = true
			nd.add(MemberMoved, w, fmt.Sprint(om.Offset), fmt.Sprint(nm.Offset), unionFact,
				fmt.Sprintf("%s of %s moved from offset %d to %d", w, nd.name, om.Offset, nm.Offset))
		}
		l := &loc{kind: MemberTypeChanged, where: w, owner: nd}
		d.link(nd, label(d.at(om.Type, nm.Type, l, 0), w, nm.Type))
	}
	for _, p := range renamed {
		om, nm := o.Members[p[0]], n.Members[p[1]]
		nd.add(MemberRenamed, memberWhere(om, p[0]), memberName(om, p[0]), memberName(nm, p[1]), unionFact,
			fmt.Sprintf("member %s of %s renamed to %s", memberName(om, p[0]), nd.name, memberName(nm, p[1])))
		l := &loc{kind: MemberTypeChanged, where: memberWhere(nm, p[1]), owner: nd}
		d.link(nd, label(d.at(om.Type, nm.Type, l, 0), l.where, nm.Type))
	}
	hoisted, _ := hoistedMembers(o, n)
	for _, i := range removed {
		om := o.Members[i]
		if hoisted[om.Name] {
			continue // now a member of a new base, at the same place
		}
		nd.add(MemberRemoved, memberWhere(om, i), om.Type.String(), "", unionFact,
			fmt.Sprintf("%s (%s) removed from %s", memberWhere(om, i), om.Type, nd.name))
	}
	for _, j := range added {
		nm := n.Members[j]
		f := unionFact
		if so == sn && !moved && !overlaps(o.Members, nm) {
			f |= FactInPadding
		}
		if nm.Offset >= so {
			f |= FactAppended
		}
		nd.add(MemberAdded, memberWhere(nm, j), "", nm.Type.String(), f,
			fmt.Sprintf("%s (%s) added to %s at offset %d", memberWhere(nm, j), nm.Type, nd.name, nm.Offset))
		// A new member's types are new: nothing to compare them with.
	}
	if so == sn {
		nd.markReuse(start, o, n, pairs, removed, added)
	}
}

// markReuse adds the facts of reuse to the member changes of nd from
// index start on.
func (nd *node) markReuse(start int, o, n *abi.Type, pairs [][2]int, removed, added []int) {
	facts, wrapped := reuse(o, n, pairs, removed, added)
	for _, c := range nd.local[start:] {
		switch c.Kind {
		case MemberRemoved, MemberMoved, MemberAdded, MemberTypeChanged, ArrayLengthChanged:
			c.Facts |= facts[c.Where]
			if w, ok := wrapped[c.Where]; ok && c.Kind == MemberRemoved {
				c.Detail = w
			}
		}
	}
}

// versionMember returns the name of the member that versions the struct
// o, which grew into n at its end: a leading integer named for a version
// or a size (sqlite3_module's iVersion, Win32's cbSize), with every old
// member where it was. "" when there is none.
func versionMember(o, n *abi.Type) string {
	if o.Kind != abi.StructType || len(o.Members) == 0 || len(n.Members) < len(o.Members) {
		return ""
	}
	first := o.Members[0]
	key := strings.ToLower(strings.ReplaceAll(first.Name, "_", ""))
	switch key {
	case "iversion", "version", "abiversion", "apiversion", "structversion", "size", "structsize", "cbsize", "dwsize", "ssize":
	default:
		return ""
	}
	if t := first.Type.Strip(); t == nil || first.Offset != 0 || !strings.HasPrefix(scalarRepr(t), "int ") {
		return ""
	}
	for i, m := range o.Members {
		if nm := n.Members[i]; nm.Name != m.Name || nm.Offset != m.Offset || nm.BitOffset != m.BitOffset {
			return ""
		}
	}
	return "member " + first.Name
}

// markInternal adds FactInternal to the changes found in nd.
func (nd *node) markInternal() {
	for _, c := range nd.local {
		c.Facts |= FactInternal
	}
}

// clientsCanCreate reports whether clients can allocate objects of t
// themselves (on the stack, statically, embedded, with new): any C struct;
// a C++ class unless it is defined in a source file (not a header) or all
// its constructors are private or deleted.
func clientsCanCreate(t *abi.Type) bool {
	return t.Class == nil || !t.Class.Internal && !t.Class.NoPublicCtor
}

// matchMembers pairs the members of two aggregates: by name, and anonymous
// members by their order among anonymous members. It returns the pairs
// (old index, new index) and the unmatched indexes of each side.
func matchMembers(om, nm []abi.Member) (pairs [][2]int, removed, added []int) {
	byName := make(map[string]int, len(nm))
	var anonNew []int
	for j, m := range nm {
		if m.Name == "" {
			anonNew = append(anonNew, j)
		} else {
			byName[m.Name] = j
		}
	}
	used := make([]bool, len(nm))
	anon := 0
	for i, m := range om {
		j, ok := -1, false
		if m.Name == "" {
			if anon < len(anonNew) {
				j, ok = anonNew[anon], true
				anon++
			}
		} else {
			j, ok = byName[m.Name]
		}
		if !ok {
			removed = append(removed, i)
			continue
		}
		used[j] = true
		pairs = append(pairs, [2]int{i, j})
	}
	for j := range nm {
		if !used[j] {
			added = append(added, j)
		}
	}
	return pairs, removed, added
}

// overlaps reports whether m occupies bytes of any of members.
func overlaps(members []abi.Member, m abi.Member) bool {
	start, end := bitRange(m)
	for _, o := range members {
		s, e := bitRange(o)
		if start < e && s < end {
			return true
		}
	}
	return false
}

func bitRange(m abi.Member) (int64, int64) {
	if m.BitSize > 0 {
		return m.BitOffset, m.BitOffset + m.BitSize
	}
	size := m.Type.Sizeof()
	if size < 0 {
		size = 0
	}
	return m.Offset * 8, (m.Offset + size) * 8
}

func memberName(m abi.Member, i int) string {
	if m.Name == "" {
		return fmt.Sprintf("(anonymous %s #%d)", m.Type.Strip().Kind, i+1)
	}
	return m.Name
}

func memberWhere(m abi.Member, i int) string { return "member " + memberName(m, i) }

func bits(m abi.Member) string {
	if m.BitSize == 0 {
		return fmt.Sprintf("offset %d", m.Offset)
	}
	return fmt.Sprintf("bit %d, width %d", m.BitOffset, m.BitSize)
}

// enum compares two enums of one name.
func (d *typeDiffer) enum(nd *node) {
	o, n := nd.o, nd.n
	if o.Declaration || n.Declaration {
		return
	}
	if so, sn := o.Sizeof(), n.Sizeof(); so != sn {
		f := FactSize | FactAllocatable
		if sn > so {
			f |= FactGrew
		} else {
			f |= FactShrank
		}
		nd.add(TypeSizeChanged, "", fmt.Sprint(so), fmt.Sprint(sn), f,
			fmt.Sprintf("size of %s changed from %d to %d bytes", nd.name, so, sn))
	}
	newVal := make(map[string]int64, len(n.Enumerators))
	newByVal := make(map[int64][]string)
	for _, e := range n.Enumerators {
		newVal[e.Name] = e.Value
		newByVal[e.Value] = append(newByVal[e.Value], e.Name)
	}
	oldVal := make(map[string]int64, len(o.Enumerators))
	var maxOld int64
	last := ""
	for i, e := range o.Enumerators {
		oldVal[e.Name] = e.Value
		if i == 0 || e.Value >= maxOld {
			maxOld, last = e.Value, e.Name
		}
	}
	renamedTo := make(map[string]bool)
	for _, e := range o.Enumerators {
		v, ok := newVal[e.Name]
		switch {
		case ok && v != e.Value:
			var f Facts
			if e.Name == last && v > e.Value && isSentinel(e.Name) {
				f |= FactSentinel
			}
			nd.add(EnumeratorValueChanged, "enumerator "+e.Name, fmt.Sprint(e.Value), fmt.Sprint(v), f,
				fmt.Sprintf("value of %s in %s changed from %d to %d", e.Name, nd.name, e.Value, v))
		case !ok:
			to := ""
			for _, name := range newByVal[e.Value] {
				if _, old := oldVal[name]; !old && !renamedTo[name] {
					to = name
					break
				}
			}
			if to != "" {
				renamedTo[to] = true
				nd.add(EnumeratorRenamed, "enumerator "+e.Name, e.Name, to, 0,
					fmt.Sprintf("enumerator %s of %s (value %d) renamed to %s", e.Name, nd.name, e.Value, to))
				continue
			}
			nd.add(EnumeratorRemoved, "enumerator "+e.Name, fmt.Sprint(e.Value), "", 0,
				fmt.Sprintf("enumerator %s (value %d) removed from %s", e.Name, e.Value, nd.name))
		}
	}
	for _, e := range n.Enumerators {
		if _, ok := oldVal[e.Name]; ok || renamedTo[e.Name] {
			continue
		}
		var f Facts
		if len(o.Enumerators) == 0 || e.Value > maxOld {
			f |= FactAppended
		}
		nd.add(EnumeratorAdded, "enumerator "+e.Name, "", fmt.Sprint(e.Value), f,
			fmt.Sprintf("enumerator %s (value %d) added to %s", e.Name, e.Value, nd.name))
	}
}

// isSentinel reports whether an enumerator's name says it counts or
// bounds the others: FOO_MAX, FOO_COUNT, N_FOO, FOO_LAST, NUM_FOO.
func isSentinel(name string) bool {
	for _, w := range strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r == '_' }) {
		switch w {
		case "MAX", "COUNT", "LAST", "NUM", "N", "NB", "END", "LIMIT", "TOTAL", "SENTINEL", "NR", "SIZE":
			return true
		}
		if strings.HasPrefix(w, "MAX") || strings.HasPrefix(w, "NUM") || strings.HasSuffix(w, "COUNT") {
			return true
		}
	}
	return false
}
