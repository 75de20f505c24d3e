package abi

import "strings"

// This file holds predicates on types: their qualifiers, empty classes,
// complete virtual tables.

// Qualifier bits.
const (
	QualConst = 1 << iota
	qualVolatile
	qualRestrict
	qualAtomic
)

// Qualifiers returns the qualifiers on t and the type beneath them (and
// beneath any typedef between them).
func Qualifiers(t *Type) (int, *Type) {
	q := 0
	for i := 0; t != nil; i++ {
		if i == MaxAliasChain {
			return q, nil
		}
		switch {
		case t.Kind.isQualifier():
			q |= qualBit(t.Kind)
		case t.Kind != TypedefType:
			return q, t
		}
		t = t.Elem
	}
	return q, t
}

// qualBit returns the qualifier bit of a qualifier kind, 0 for other kinds.
func qualBit(k TypeKind) int {
	switch k {
	case ConstType:
		return QualConst
	case VolatileType:
		return qualVolatile
	case RestrictType:
		return qualRestrict
	case AtomicType:
		return qualAtomic
	}
	return 0
}

// TopQualifiers returns the qualifiers at the top of t, above any typedef,
// and the type beneath them.
func TopQualifiers(t *Type) (int, *Type) {
	q := 0
	for i := 0; t != nil && t.Kind.isQualifier(); i++ {
		if i == MaxAliasChain {
			return q, nil
		}
		q |= qualBit(t.Kind)
		t = t.Elem
	}
	return q, t
}

// IsEmptyClass reports whether t is a class without data: no members, no
// vptr, and only empty bases.
func IsEmptyClass(t *Type) bool { return isEmpty(t, 0) }

func isEmpty(t *Type, depth int) bool {
	t = t.Strip()
	if t == nil || t.Class == nil || len(t.Members) > 0 || t.Class.VPtr || t.Size > 1 || depth > 32 {
		return false // depth: only malformed DWARF nests bases this deep (or in a cycle)
	}
	for _, b := range t.Class.Bases {
		if b.Virtual || !isEmpty(b.Type, depth+1) {
			return false
		}
	}
	return true
}

// VirtualityPure is DW_VIRTUALITY_pure_virtual.
const VirtualityPure = 2

// CompleteSlots reports whether the class's virtual methods fill every
// vtable slot from 0 to the last (a virtual destructor fills two: the
// complete and the deleting one).
func CompleteSlots(c *ClassInfo) bool {
	filled := make(map[int64]bool)
	var last int64 = -1
	slotlessDtor := false
	for _, m := range c.Methods {
		if m.Virtuality != VirtualityNone && m.Slot < 0 && strings.HasPrefix(m.Name, "~") {
			slotlessDtor = true // GCC gives no DW_AT_vtable_elem_location for destructors
		}
		if m.Virtuality == VirtualityNone || m.Slot < 0 {
			continue
		}
		filled[m.Slot] = true
		end := m.Slot
		if strings.HasPrefix(m.Name, "~") {
			filled[m.Slot+1] = true
			end++
		}
		last = max(last, end)
	}
	// A virtual destructor without a slot fills the one gap of two slots
	// (its complete-object and deleting entries).
	gap := int64(-1)
	for i := int64(0); i <= last; i++ {
		if filled[i] {
			continue
		}
		if !slotlessDtor || gap >= 0 || filled[i+1] || i+1 > last {
			return false
		}
		gap = i
		i++
	}
	return true
}
