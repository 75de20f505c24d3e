package elfdiff

// This file compares two types by their layout: the scalars they hold and
// where, which is all the ABI sees of them.

import (
	"github.com/compatgate/compatgate/elfdiff/abi"
)

// maxLeaves bounds the scalars compared by sameLayout: bigger types are
// not flattened (they are compared member by member as usual).
const maxLeaves = 256

// A leaf is one scalar of a flattened type: its bit offset and width, and
// how it is represented (scalarRepr, or a bit-field's signedness).
type leaf struct {
	bit, bits int64
	repr      string
}

// sameLayout reports whether o and n lay out the same scalars at the same
// offsets, with the same size and alignment: void *[2] and struct
// { struct q *next, *prev; }. Which pointee a pointer has does not matter
// to the layout.
func sameLayout(o, n *abi.Type) bool {
	if o.Sizeof() != n.Sizeof() || o.Sizeof() <= 0 || o.Alignof() != n.Alignof() {
		return false
	}
	lo, ok := flatten(o, 0, nil, 0)
	if !ok {
		return false
	}
	ln, ok := flatten(n, 0, nil, 0)
	if !ok || len(lo) != len(ln) {
		return false
	}
	for i := range lo {
		if lo[i] != ln[i] {
			return false
		}
	}
	return true
}

// flatten appends the scalars of t, placed at bit offset base, to out.
// It fails for types it cannot flatten: incomplete ones, C++ classes with
// bases or a vtable pointer, and those with more than maxLeaves scalars.
func flatten(t *abi.Type, base int64, out []leaf, depth int) ([]leaf, bool) {
	t = t.Strip()
	if t == nil || depth > 16 || len(out) > maxLeaves {
		return out, false
	}
	switch t.Kind {
	case abi.StructType, abi.ClassType, abi.UnionType:
		if t.Declaration || t.Class != nil && (t.Class.VPtr || len(t.Class.Bases) > 0) {
			return out, false
		}
		ok := true
		for _, m := range t.Members {
			if m.BitSize > 0 {
				out = append(out, leaf{bit: base + m.BitOffset, bits: m.BitSize, repr: scalarRepr(m.Type.Strip())})
				continue
			}
			if out, ok = flatten(m.Type, base+m.Offset*8, out, depth+1); !ok {
				return out, false
			}
		}
		return out, true
	case abi.ArrayType:
		es := t.Elem.Sizeof()
		if t.Count < 0 || es <= 0 || t.Vector || t.Count > maxLeaves {
			return out, false
		}
		ok := true
		for i := range t.Count {
			if out, ok = flatten(t.Elem, base+i*es*8, out, depth+1); !ok {
				return out, false
			}
		}
		return out, true
	}
	r := scalarRepr(t)
	if r == "" {
		return out, false
	}
	return append(out, leaf{bit: base, bits: t.Sizeof() * 8, repr: r}), true
}
