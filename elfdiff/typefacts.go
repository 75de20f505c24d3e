package elfdiff

// This file says how two types differ: identity, qualifiers, and the facts
// the rules judge by.

import (
	"fmt"
	"strings"
)

// Qualifier bits.
const (
	qualConst = 1 << iota
	qualVolatile
	qualRestrict
	qualAtomic
)

// qualifiers returns the qualifiers on t and the type beneath them (and
// beneath any typedef between them).
func qualifiers(t *Type) (int, *Type) {
	q := 0
	for i := 0; t != nil; i++ {
		if i == maxAliasChain {
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
		return qualConst
	case VolatileType:
		return qualVolatile
	case RestrictType:
		return qualRestrict
	case AtomicType:
		return qualAtomic
	}
	return 0
}

// topQualifiers returns the qualifiers at the top of t, above any typedef,
// and the type beneath them.
func topQualifiers(t *Type) (int, *Type) {
	q := 0
	for i := 0; t != nil && t.Kind.isQualifier(); i++ {
		if i == maxAliasChain {
			return q, nil
		}
		q |= qualBit(t.Kind)
		t = t.Elem
	}
	return q, t
}

// qualFacts describes a change of qualifiers from oq to nq, depth
// pointers below the location.
func qualFacts(oq, nq, depth int) Facts {
	f := FactQualifiers
	if depth > 0 {
		f = FactPointeeQual
	}
	if nq&qualConst != 0 && oq&qualConst == 0 {
		f |= FactBecameConst
	}
	if oq&qualConst != 0 && nq&qualConst == 0 {
		f |= FactLostConst
	}
	return f
}

// sameIdentity reports whether two unqualified types are the same type
// constructor with the same name, so that their insides can be compared.
func sameIdentity(o, n *Type) bool {
	if o == nil || n == nil {
		return o == n
	}
	ok, nk := o.Kind, n.Kind
	if ok == ClassType {
		ok = StructType
	}
	if nk == ClassType {
		nk = StructType
	}
	if ok != nk {
		return false
	}
	switch o.Kind {
	case BaseType:
		return o.Name == n.Name && o.Size == n.Size
	case VoidType:
		return o.Name == n.Name
	case StructType, UnionType, ClassType, EnumType:
		// An anonymous type that gained a tag (typedef struct {…} T became
		// typedef struct T {…} T), or lost it, is the same type: its
		// insides decide.
		return o.Name == n.Name || o.Name == "" || n.Name == ""
	}
	return true
}

// sameSignature reports whether two function types have the same shape:
// same number of parameters, variadic flag, and types of the same
// spelling once typedefs are looked through. Named types are compared by
// name only; their insides are compared as nodes.
func sameSignature(o, n *Type) bool {
	if o.Variadic != n.Variadic || len(o.Params) != len(n.Params) {
		return false
	}
	if !sameShape(o.Elem, n.Elem, 0) {
		return false
	}
	for i := range o.Params {
		if !sameShape(o.Params[i], n.Params[i], 0) {
			return false
		}
	}
	return true
}

// sameShape compares two types down to named types.
func sameShape(o, n *Type, depth int) bool {
	if depth > 32 {
		return true
	}
	oq, oc := qualifiers(o.stripTypedefs())
	nq, nc := qualifiers(n.stripTypedefs())
	if oq != nq || !sameIdentity(oc, nc) {
		return false
	}
	if oc == nil {
		return true
	}
	switch oc.Kind {
	case PointerType, ReferenceType, RvalueRefType, PtrToMemberType:
		return sameShape(oc.Elem, nc.Elem, depth+1)
	case ArrayType:
		return oc.Count == nc.Count && sameShape(oc.Elem, nc.Elem, depth+1)
	case FuncType:
		if oc.Variadic != nc.Variadic || len(oc.Params) != len(nc.Params) || !sameShape(oc.Elem, nc.Elem, depth+1) {
			return false
		}
		for i := range oc.Params {
			if !sameShape(oc.Params[i], nc.Params[i], depth+1) {
				return false
			}
		}
	}
	return true
}

// facts describes how the types o and n at a location differ.
func (d *typeDiffer) facts(o, n *Type, depth int, l *loc) Facts {
	var f Facts
	if pointerLevel(o) != pointerLevel(n) {
		f |= FactPointerLevel
	}
	os, ns := o.strip(), n.strip()
	if depth > 0 {
		f |= FactPointee
		if isVoid(os) || isVoid(ns) {
			return f // void * is a generic pointer
		}
		if scalarRepr(os) != "" && scalarRepr(os) == scalarRepr(ns) {
			f |= FactSameRepr
		}
		if so, sn := os.Sizeof(), ns.Sizeof(); so > 0 && sn > 0 && so != sn {
			f |= FactSize
		}
		return f
	}
	so, sn := o.Sizeof(), n.Sizeof()
	if so != sn {
		f |= FactSize
		if sn > so {
			f |= FactGrew
		} else {
			f |= FactShrank
		}
	}
	if isVoid(os) {
		f |= FactFromVoid
	}
	if isVoid(ns) {
		f |= FactToVoid
	}
	co, cn := Classification(o, l.isReturn), Classification(n, l.isReturn)
	if co != cn {
		f |= FactClass
		if !isVoid(os) && !isVoid(ns) && (co == "MEMORY") != (cn == "MEMORY") {
			f |= FactMemory
		}
	}
	if isVoid(os) != isVoid(ns) && (co == "MEMORY" || cn == "MEMORY") {
		f |= FactMemory
	}
	if kindClass(os) != kindClass(ns) {
		f |= FactKind
	}
	ro, rn := scalarRepr(os), scalarRepr(ns)
	switch {
	case ro != "" && ro == rn:
		f |= FactSameRepr
	case ro != "" && rn != "" && so == sn && strings.HasPrefix(ro, "int") && strings.HasPrefix(rn, "int"):
		f |= FactSignedness
	}
	return f
}

func isVoid(t *Type) bool { return t == nil || t.Kind == VoidType }

// pointerLevel counts the pointers (and references) at the top of t.
func pointerLevel(t *Type) int {
	n := 0
	for t = t.strip(); t != nil && n < 64; t = t.Elem.strip() {
		if t.Kind != PointerType && t.Kind != ReferenceType && t.Kind != RvalueRefType {
			break
		}
		n++
	}
	return n
}

// kindClass groups types by what they are to the ABI: a scalar, a struct,
// a union, an array, a function, void.
func kindClass(t *Type) string {
	if t == nil {
		return "void"
	}
	switch t.Kind {
	case BaseType, EnumType, PointerType, ReferenceType, RvalueRefType, PtrToMemberType:
		return "scalar"
	case StructType, ClassType:
		return "struct"
	}
	return t.Kind.String()
}

// scalarRepr describes how a scalar is represented: "int signed 4",
// "float 8", "pointer 8"; "" for non-scalars. Two types with the same
// representation are interchangeable in the ABI.
func scalarRepr(t *Type) string {
	if t == nil {
		return ""
	}
	switch t.Kind {
	case PointerType, ReferenceType, RvalueRefType:
		return fmt.Sprintf("pointer %d", t.Size)
	case EnumType:
		signed := "unsigned"
		if u := t.Elem.strip(); u != nil && (u.Encoding == ateSigned || u.Encoding == ateSignedChar) {
			signed = "signed"
		} else if u == nil {
			for _, e := range t.Enumerators {
				if e.Value < 0 {
					signed = "signed"
				}
			}
		}
		return fmt.Sprintf("int %s %d", signed, t.Size)
	case BaseType:
		switch t.Encoding {
		case ateSigned, ateSignedChar:
			return fmt.Sprintf("int signed %d", t.Size)
		case ateUnsigned, ateUnsignedChar, ateUTF:
			return fmt.Sprintf("int unsigned %d", t.Size)
		case ateBoolean:
			return fmt.Sprintf("bool %d", t.Size)
		case ateFloat:
			return fmt.Sprintf("float %s %d", t.Name, t.Size)
		case ateComplexFloat:
			return fmt.Sprintf("complex %s %d", t.Name, t.Size)
		}
		return fmt.Sprintf("%s %d", t.Name, t.Size)
	}
	return ""
}
