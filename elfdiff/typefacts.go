package elfdiff

// This file says how two types differ: identity, qualifiers, and the facts
// the rules judge by.

import (
	"github.com/compatgate/compatgate/elfdiff/abi"

	"fmt"
	"strings"
)

// qualFacts describes a change of qualifiers from oq to nq, depth
// pointers below the location.
func qualFacts(oq, nq, depth int) Facts {
	f := FactQualifiers
	if depth > 0 {
		f = FactPointeeQual
	}
	if nq&abi.QualConst != 0 && oq&abi.QualConst == 0 {
		f |= FactBecameConst
	}
	if oq&abi.QualConst != 0 && nq&abi.QualConst == 0 {
		f |= FactLostConst
	}
	return f
}

// sameIdentity reports whether two unqualified types are the same type
// constructor with the same name, so that their insides can be compared.
func sameIdentity(o, n *abi.Type) bool {
	if plainVoid(o) && plainVoid(n) {
		return true // void, however a compiler spells it
	}
	if o == nil || n == nil {
		return o == n
	}
	ok, nk := o.Kind, n.Kind
	if ok == abi.ClassType {
		ok = abi.StructType
	}
	if nk == abi.ClassType {
		nk = abi.StructType
	}
	if ok != nk {
		return false
	}
	switch o.Kind {
	case abi.BaseType:
		return o.Name == n.Name && o.Size == n.Size
	case abi.VoidType:
		return o.Name == n.Name
	case abi.StructType, abi.UnionType, abi.ClassType, abi.EnumType:
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
func sameSignature(o, n *abi.Type) bool {
	if o.Variadic != n.Variadic || len(o.Params) != len(n.Params) {
		return false
	}
	if !sameShape(o.Elem, n.Elem) {
		return false
	}
	for i := range o.Params {
		if !sameShape(o.Params[i], n.Params[i]) {
			return false
		}
	}
	return true
}

// paramsAppended reports whether the function type n is o with
// parameters added after all of o's: same return type, same parameters
// first, same variadic flag.
func paramsAppended(o, n *abi.Type) bool {
	if o.Variadic != n.Variadic || len(n.Params) <= len(o.Params) || !sameShape(o.Elem, n.Elem) {
		return false
	}
	for i := range o.Params {
		if !sameShape(o.Params[i], n.Params[i]) {
			return false
		}
	}
	return true
}

// sameShape compares two types down to named types.
func sameShape(o, n *abi.Type) bool {
	var c shapeComparison
	return c.same(o, n, 0)
}

// A shapeComparison is one sameShape. It compares each pair of types
// once: a pair met again while being compared (a cycle, such as a
// function type among its own parameters in a corrupt dump) is taken as
// equal, and a pair compared before gives the same answer, so that a
// function type whose parameters repeat it costs a pair each, not
// 3^depth comparisons.
type shapeComparison struct {
	// funcs holds the function type pairs compared or being compared,
	// and their answer. Only function types branch (a return and the
	// parameters); pointers and arrays are chains, which the depth bounds.
	// Made at the first function pair: sameShape runs for every member
	// compared, and few are function pointers.
	funcs map[[2]*abi.Type]bool
}

func (c *shapeComparison) same(o, n *abi.Type, depth int) bool {
	if depth > 32 {
		return true
	}
	oq, oc := abi.Qualifiers(o.StripTypedefs())
	nq, nc := abi.Qualifiers(n.StripTypedefs())
	if oq != nq || !sameIdentity(oc, nc) {
		return false
	}
	if oc == nil || nc == nil {
		return true
	}
	switch oc.Kind {
	case abi.PointerType, abi.ReferenceType, abi.RvalueRefType, abi.PtrToMemberType, abi.ArrayType, abi.FuncType:
	default:
		return true // named types: their identity decides
	}
	if oc.Kind != abi.FuncType {
		return c.inside(oc, nc, depth)
	}
	pair := [2]*abi.Type{oc, nc}
	if same, ok := c.funcs[pair]; ok {
		return same
	}
	if c.funcs == nil {
		c.funcs = make(map[[2]*abi.Type]bool)
	}
	c.funcs[pair] = true // while it is compared
	same := c.inside(oc, nc, depth)
	c.funcs[pair] = same
	return same
}

// inside compares what two pointers, arrays or function types are made
// of.
func (c *shapeComparison) inside(oc, nc *abi.Type, depth int) bool {
	switch oc.Kind {
	case abi.ArrayType:
		return oc.Count == nc.Count && c.same(oc.Elem, nc.Elem, depth+1)
	case abi.FuncType:
		if oc.Variadic != nc.Variadic || len(oc.Params) != len(nc.Params) || !c.same(oc.Elem, nc.Elem, depth+1) {
			return false
		}
		for i := range oc.Params {
			if !c.same(oc.Params[i], nc.Params[i], depth+1) {
				return false
			}
		}
		return true
	}
	return c.same(oc.Elem, nc.Elem, depth+1)
}

// facts describes how the types o and n at a location differ.
func (d *typeDiffer) facts(o, n *abi.Type, depth int, l *loc) Facts {
	var f Facts
	if pointerLevel(o) != pointerLevel(n) {
		f |= FactPointerLevel
	}
	os, ns := o.Strip(), n.Strip()
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
		if !f.Has(FactPointerLevel) && sameLayout(os, ns) {
			f |= FactSameLayout
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
	co, cn := abi.Classification(o, l.isReturn), abi.Classification(n, l.isReturn)
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
	if !f.Any(FactSize|FactClass) && sameLayout(o, n) {
		f |= FactSameLayout
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

func isVoid(t *abi.Type) bool { return t == nil || t.Kind == abi.VoidType }

// plainVoid reports whether t is void itself, not a placeholder for a
// type that could not be read.
func plainVoid(t *abi.Type) bool {
	return t == nil || t.Kind == abi.VoidType && (t.Name == "" || t.Name == "void")
}

// pointerLevel counts the pointers (and references) at the top of t.
func pointerLevel(t *abi.Type) int {
	n := 0
	for t = t.Strip(); t != nil && n < 64; t = t.Elem.Strip() {
		if t.Kind != abi.PointerType && t.Kind != abi.ReferenceType && t.Kind != abi.RvalueRefType {
			break
		}
		n++
	}
	return n
}

// kindClass groups types by what they are to the ABI: a scalar, a struct,
// a union, an array, a function, void.
func kindClass(t *abi.Type) string {
	if t == nil {
		return "void"
	}
	switch t.Kind {
	case abi.BaseType, abi.EnumType, abi.PointerType, abi.ReferenceType, abi.RvalueRefType, abi.PtrToMemberType:
		return "scalar"
	case abi.StructType, abi.ClassType:
		return "struct"
	}
	return t.Kind.String()
}

// scalarRepr describes how a scalar is represented: "int signed 4",
// "float 8", "pointer 8"; "" for non-scalars. Two types with the same
// representation are interchangeable in the ABI.
func scalarRepr(t *abi.Type) string {
	if t == nil {
		return ""
	}
	switch t.Kind {
	case abi.PointerType, abi.ReferenceType, abi.RvalueRefType:
		return fmt.Sprintf("pointer %d", t.Size)
	case abi.EnumType:
		signed := "unsigned"
		if u := t.Elem.Strip(); u != nil && (u.Encoding == abi.AteSigned || u.Encoding == abi.AteSignedChar) {
			signed = "signed"
		} else if u == nil {
			for _, e := range t.Enumerators {
				if e.Value < 0 {
					signed = "signed"
				}
			}
		}
		return fmt.Sprintf("int %s %d", signed, t.Size)
	case abi.BaseType:
		switch t.Encoding {
		case abi.AteSigned, abi.AteSignedChar:
			return fmt.Sprintf("int signed %d", t.Size)
		case abi.AteUnsigned, abi.AteUnsignedChar, abi.AteUTF:
			return fmt.Sprintf("int unsigned %d", t.Size)
		case abi.AteBoolean:
			return fmt.Sprintf("bool %d", t.Size)
		case abi.AteFloat:
			return fmt.Sprintf("float %s %d", t.Name, t.Size)
		case abi.AteComplexFloat:
			return fmt.Sprintf("complex %s %d", t.Name, t.Size)
		}
		return fmt.Sprintf("%s %d", t.Name, t.Size)
	}
	return ""
}
