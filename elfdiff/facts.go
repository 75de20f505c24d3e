package elfdiff

import "strings"

// Reach says how an exported symbol's ABI reaches a type: by value (a
// parameter, return value or variable of that type, or a member or array
// element of one) or only through pointers.
type Reach string

// Reaches, from weakest to strongest.
const (
	ReachNone    Reach = ""        // not a type change
	ReachPointer Reach = "pointer" // only through pointers (or references)
	ReachValue   Reach = "value"   // by value, embedded, or as an array element
)

// stronger returns the stronger of two reaches.
func (r Reach) stronger(o Reach) Reach {
	if r == ReachValue || o == ReachValue {
		return ReachValue
	}
	if r == ReachPointer || o == ReachPointer {
		return ReachPointer
	}
	return ReachNone
}

// Facts qualify a change between two types, for the rules to judge. They
// are neutral observations, several may hold at once.
type Facts uint64

// The facts.
const (
	FactSize           Facts = 1 << iota // the sizes differ
	FactClass                            // the x86-64 System V classification (registers used) differs
	FactMemory                           // passed or returned in memory on one side only
	FactQualifiers                       // only const/volatile/restrict differ, at the location itself
	FactPointee                          // beneath a pointer: only what it points to differs
	FactPointeeQual                      // beneath a pointer: only qualifiers of the pointee differ
	FactPointerLevel                     // the number of pointer indirections differs
	FactSameRepr                         // another type with the same size, class and signedness (long ↔ long long)
	FactSignedness                       // integers of one size, signedness differs
	FactFromVoid                         // the old type is void
	FactToVoid                           // the new type is void
	FactKind                             // struct, union, enum, scalar: another kind of type
	FactGrew                             // the size grew
	FactShrank                           // the size shrank
	FactAllocatable                      // complete on both sides: C clients can allocate, embed and index it
	FactAppended                         // an enumerator was added after every old value
	FactSentinel                         // the changed enumerator looks like a count or maximum (FOO_MAX, N_FOO…)
	FactBecameConst                      // a variable or member became const
	FactLostConst                        // a variable or member lost const
	FactInPadding                        // a member was added without moving others or growing the type
	FactBecameVariadic                   // the function now takes "..."
	FactLostVariadic                     // the function no longer takes "..."
	FactUnion                            // the enclosing type is a union
	FactFlexible                         // an array became or stopped being a flexible array member (T[])
	FactPure                             // a virtual method added as pure virtual
	FactCXXClass                         // the type is a C++ class (struct, class or union with C++ semantics)
	FactInternal                         // the class is internal to the library: defined in its sources, or a template instantiated on such a class
	FactBaseOfShifted                    // a virtual method appended to a class that is a direct base of a class of the library whose own slots it shifted
	FactPrivate                          // the type is not public API: defined in a source file or private header, not in a public header
	FactNoHeaders                        // no public headers were known: FactPrivate was inferred from a source file name
	FactSameLayout                       // another type with the same size, alignment, scalars at the same offsets and register classification
	FactReserved                         // the change is in a reserved or padding member, or in new members that took its bytes
	FactVersioned                        // the struct grew at its end and starts with a version or size member (iVersion, cbSize…) that tells the library which members a client knows
	FactStaticData                       // the library's private variables in static storage reach the type
)

var factNames = []string{
	"size", "class", "memory", "qualifiers", "pointee", "pointee-qualifiers", "pointer-level",
	"same-representation", "signedness", "from-void", "to-void", "kind", "grew", "shrank",
	"allocatable", "appended", "sentinel", "became-const", "lost-const", "in-padding",
	"became-variadic", "lost-variadic", "union", "flexible", "pure", "cxx-class", "internal", "base-of-shifted", "private", "no-headers", "same-layout", "reserved", "versioned", "static-data",
}

// Has reports whether every fact of f holds.
func (fs Facts) Has(f Facts) bool { return fs&f == f }

// Any reports whether any fact of f holds.
func (fs Facts) Any(f Facts) bool { return fs&f != 0 }

// String lists the facts, comma-separated.
func (fs Facts) String() string {
	var names []string
	for i, n := range factNames {
		if fs&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}
