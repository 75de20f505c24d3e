package elfdiff

// This file recognises members whose bytes were put to another use
// without moving a byte clients read: a reserved or padding member taken
// by new members, and a member wrapped into a union or an anonymous struct
// at the same offset.

import (
	"github.com/compatgate/compatgate/elfdiff/abi"

	"fmt"
	"strings"
)

// reuse returns the facts to add to the changes of the aggregate pair
// (o, n), by their Where, and for a wrapped member the detail that says
// where it is now.
func reuse(o, n *abi.Type, pairs [][2]int, removed, added []int) (facts map[string]Facts, wrapped map[string]string) {
	isAdded := make(map[int]bool, len(added))
	for _, j := range added {
		isAdded[j] = true
	}
	partner := make(map[int]int, len(pairs))
	for _, p := range pairs {
		partner[p[0]] = p[1]
	}
	add := func(where string, f Facts) {
		if facts == nil {
			facts = make(map[string]Facts)
		}
		facts[where] |= f
	}
	allocatable := Facts(0)
	if clientsCanCreate(o) && clientsCanCreate(n) {
		allocatable = FactAllocatable
	}
	for i, om := range o.Members {
		if om.BitSize > 0 || !isReserved(om.Name) {
			continue
		}
		s, e := bitRange(om)
		if e <= s {
			continue
		}
		var inside []string
		ok := true
		for j, nm := range n.Members {
			ns, ne := bitRange(nm)
			if ne <= s || ns >= e {
				continue // outside the reserved bytes
			}
			if ns < s || ne > e || !isAdded[j] && partner[i] != j {
				ok = false
				break
			}
			if p, has := partner[i]; !has || p != j {
				inside = append(inside, memberWhere(nm, j))
			}
		}
		if !ok {
			continue
		}
		add(memberWhere(om, i), FactReserved|allocatable)
		for _, w := range inside {
			add(w, FactReserved|allocatable)
		}
	}
	for _, i := range removed {
		om := o.Members[i]
		if om.BitSize > 0 || facts[memberWhere(om, i)] != 0 {
			continue
		}
		for _, j := range added {
			nm := n.Members[j]
			if nm.BitSize > 0 || om.Offset < nm.Offset || om.Offset >= nm.Offset+nm.Type.Sizeof() {
				continue
			}
			if in, ok := holds(nm.Type, om, om.Offset-nm.Offset, 0); ok {
				add(memberWhere(om, i), FactSameLayout)
				if wrapped == nil {
					wrapped = make(map[string]string)
				}
				wrapped[memberWhere(om, i)] = fmt.Sprintf("%s (%s) of %s is now %s%s, at the same offset and with the same layout",
					memberWhere(om, i), om.Type, o.BaseNameOrVoid(), memberName(nm, j), in)
				break
			}
		}
	}
	return facts, wrapped
}

// holds reports whether a value of type t holds, at byte offset rel, the
// member m with its layout: t has m's layout, or is a struct or union one
// of whose members holds it (m itself, by name, inside an anonymous one).
// It returns the way from t to it: "", ".heap", ".(anonymous union #1).a".
func holds(t *abi.Type, m abi.Member, rel int64, depth int) (string, bool) {
	if depth > 4 {
		return "", false
	}
	if rel == 0 && sameLayout(t, m.Type) {
		return "", true
	}
	st := t.Strip()
	if st == nil || !st.Kind.IsAggregate() || st.Declaration {
		return "", false
	}
	for i, x := range st.Members {
		if x.BitSize > 0 || rel < x.Offset || rel >= x.Offset+x.Type.Sizeof() {
			continue
		}
		if x.Name == m.Name && x.Offset == rel && sameShape(x.Type, m.Type) {
			return "." + m.Name, true
		}
		if in, ok := holds(x.Type, m, rel-x.Offset, depth+1); ok {
			return "." + memberName(x, i) + in, true
		}
	}
	return "", false
}

// isReserved reports whether a member's name says it holds no data of its
// own: reserved words, padding, spare room kept for later use.
func isReserved(name string) bool {
	n := strings.ToLower(strings.TrimLeft(name, "_"))
	for _, p := range []string{"reserved", "pad", "unused", "spare", "filler", "rh_kabi_reserved", "kabi_reserved"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return strings.Contains(n, "reserved") || strings.Contains(n, "padding")
}
