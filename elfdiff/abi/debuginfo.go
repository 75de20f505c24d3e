package abi

import (
	"debug/elf"
	"strconv"
	"strings"

	"github.com/compatgate/compatgate/elfdiff/elfsym"
)

// DebugInfo is the part of a Corpus read from DWARF: the declaration of
// every exported function and variable the debug information describes, of
// the library-private variables asked for, and the types reachable from
// them. Nothing else of the DWARF is kept.
type DebugInfo struct {
	// Source says where the DWARF came from: the library itself or the
	// path of its separate debug file.
	Source string
	// Funcs and Vars are the declarations of exported symbols, by the
	// symbol's address (st_value), which is what versioned aliases share.
	Funcs map[uint64]*Func
	Vars  map[uint64]*Var
	// FuncsByName and VarsByName hold declarations found by name only: a
	// DIE without an address (a declaration) or a TLS variable.
	FuncsByName map[string]*Func
	VarsByName  map[string]*Var
	// PrivateVars are the library's own variables in static storage that
	// it does not export, by address: those ReadOptions.PrivateData
	// selects (its state in writable memory), when it was given.
	PrivateVars map[uint64]*Var
	// Files are the paths of the files the struct, union, class and
	// enum types, functions and variables were declared in
	// (DW_AT_decl_file), as Type.File, Func.File and Var.File number them
	// from 1.
	Files []string
	// Types counts the distinct types decoded, for statistics: the
	// copies of one type that compilation units repeat count once.
	Types int
	// TypeUnitRefs counts references to types in DWARF type units
	// (-fdebug-types-section), which are not read: changes inside those
	// types go unseen.
	TypeUnitRefs int
}

// DeclFile returns the path of the file the tagged type t was defined in,
// or "" when unknown.
func (d *DebugInfo) DeclFile(t *Type) string {
	if t == nil {
		return ""
	}
	return d.File(t.File)
}

// File returns the path of the file numbered id (a Type's, Func's or
// Var's File), or "" for 0 or a number out of range.
func (d *DebugInfo) File(id uint32) string {
	if d == nil || id == 0 || int(id) > len(d.Files) {
		return ""
	}
	return d.Files[id-1]
}

// Func returns the declaration of the exported function s, or nil. An
// IFUNC symbol's address is its resolver's, so it is looked up by name
// first.
func (d *DebugInfo) Func(s elfsym.Symbol) *Func {
	if d == nil {
		return nil
	}
	if s.Type == elf.STT_GNU_IFUNC {
		if f := d.FuncsByName[s.Name]; f != nil {
			return f
		}
	}
	if f := d.Funcs[s.Value]; f != nil && s.Value != 0 {
		return f
	}
	return d.FuncsByName[s.Name]
}

// Var returns the declaration of the exported variable s, or nil.
func (d *DebugInfo) Var(s elfsym.Symbol) *Var {
	if d == nil {
		return nil
	}
	if v := d.Vars[s.Value]; v != nil && s.Value != 0 {
		return v
	}
	return d.VarsByName[s.Name]
}

// A Func is the declaration of a function: its return type, its parameters
// and whether it takes a variable argument list.
type Func struct {
	Name     string
	Linkage  string // DW_AT_linkage_name, for C++; empty in C
	Return   *Type  // the void type when the function returns nothing
	Params   []Param
	Variadic bool
	// This is the type of a C++ method's implicit object parameter
	// (S * const), nil for a free function or a static method. It is not
	// in Params, nor are other artificial parameters (__vtt_parm, __in_chrg).
	This *Type
	// Method says the function is a member function (it has a
	// DW_AT_specification in a class), static or not.
	Method bool
	// Inline says the function was declared inline or defined in its
	// class: clients that called it may have compiled their own copy.
	Inline bool
	// InHeader says the function was declared (DW_AT_decl_file) in a
	// header, not a source file: clients can see its definition when it
	// is inline or a template.
	InHeader bool
	// File and Line are where the function was declared (DW_AT_decl_file
	// as numbered in DebugInfo.Files, DW_AT_decl_line); 0 when unknown.
	File, Line uint32
}

// A Param is one formal parameter of a function.
type Param struct {
	Name string // empty when unnamed
	Type *Type
}

// A Var is the declaration of a variable.
type Var struct {
	Name    string
	Linkage string
	Type    *Type
	// File and Line are where the variable was declared, as in Func.
	File, Line uint32
}

// A TypeKind says what a Type is.
type TypeKind uint8

// Kinds of type.
const (
	VoidType        TypeKind = iota // void, or a type the reader does not know
	BaseType                        // int, double, _Bool…
	PointerType                     // T*
	ReferenceType                   // T& (C++)
	RvalueRefType                   // T&& (C++)
	ConstType                       // const T
	VolatileType                    // volatile T
	RestrictType                    // restrict T
	AtomicType                      // _Atomic T
	TypedefType                     // typedef T Name
	StructType                      // struct Name { … }
	UnionType                       // union Name { … }
	ClassType                       // class Name { … } (C++)
	EnumType                        // enum Name { … }
	ArrayType                       // T[N]
	FuncType                        // T (params)
	PtrToMemberType                 // T C::* (C++)
)

var typeKindNames = [...]string{
	VoidType: "void", BaseType: "base", PointerType: "pointer", ReferenceType: "reference",
	RvalueRefType: "rvalue reference", ConstType: "const", VolatileType: "volatile",
	RestrictType: "restrict", AtomicType: "_Atomic", TypedefType: "typedef", StructType: "struct",
	UnionType: "union", ClassType: "class", EnumType: "enum", ArrayType: "array",
	FuncType: "function", PtrToMemberType: "pointer to member",
}

// String names the kind: "struct", "pointer", "typedef"…
func (k TypeKind) String() string {
	if int(k) < len(typeKindNames) {
		return typeKindNames[k]
	}
	return "TypeKind(" + strconv.Itoa(int(k)) + ")"
}

// isQualifier reports whether k is a cv (or restrict, _Atomic) qualifier.
func (k TypeKind) isQualifier() bool {
	return k == ConstType || k == VolatileType || k == RestrictType || k == AtomicType
}

// IsAggregate reports whether k is a struct, union or class.
func (k TypeKind) IsAggregate() bool {
	return k == StructType || k == UnionType || k == ClassType
}

// isTagged reports whether types of kind k are named by a tag.
func (k TypeKind) isTagged() bool { return k.IsAggregate() || k == EnumType }

// A Type is one node of a type graph decoded from DWARF. Graphs may be
// cyclic (a struct holding a pointer to itself).
type Type struct {
	Kind TypeKind
	// File numbers the file a struct, union, class, enum or typedef was
	// defined in, in DebugInfo.Files counted from 1; 0 when unknown. Line is the
	// line of the definition there (DW_AT_decl_line), 0 when unknown.
	File, Line uint32
	// Name is the tag, typedef or base type name; empty when anonymous.
	Name string
	// Size is the size in bytes, -1 when unknown (void, incomplete types).
	// Use Sizeof for qualified and typedef'd types.
	Size int64
	// Align is DW_AT_alignment when the source asked for one, else 0.
	Align int64
	// Encoding is DW_AT_encoding of base types (DW_ATE_*).
	Encoding int64
	// Elem is the pointee, the qualified or aliased type, the array
	// element, an enum's underlying type, or a function's return type.
	Elem *Type
	// Count is the number of elements of an array, -1 when unknown
	// (flexible array member, T[]).
	Count int64
	// Members are the data members of a struct, union or class.
	Members []Member
	// Enumerators are the constants of an enum, in declaration order.
	Enumerators []Enumerator
	// Params are the parameter types of a function type.
	Params []*Type
	// Variadic says a function type ends with "...".
	Variadic bool
	// Declaration says the type is incomplete here (struct S;).
	Declaration bool
	// Vector says an array is a GCC vector type (vector_size), passed
	// in vector registers.
	Vector bool
	// Class holds what C++ adds to a struct, union or class (bases,
	// methods, vptr, static members); nil for C types. A C++ type's Name
	// is qualified by its namespaces and enclosing classes.
	Class *ClassInfo
	// CXX says the type was declared in a C++ compilation unit: reports
	// spell it as C++ does ("ns::S", not "struct S").
	CXX bool
}

// ClassInfo is the C++ part of a struct, union or class type.
type ClassInfo struct {
	// Bases are the direct base classes (DW_TAG_inheritance), in order.
	Bases []Base
	// VPtr says the class holds its own vtable pointer (an artificial
	// _vptr member): it is the first polymorphic class of its hierarchy.
	VPtr bool
	// Methods are the member functions the class declares.
	Methods []Method
	// Statics are the static data members.
	Statics []Member
	// Access holds the access of each data member, base and method that is
	// not public (by member name, "base " + name, or method key).
	Access map[string]Access
	// PassByRef says values of the class are passed and returned through
	// a hidden reference (not trivially copyable: DW_AT_calling_convention,
	// or user-declared copy/move constructor or destructor, virtual
	// functions or virtual bases).
	PassByRef bool
	// Internal says the class is defined in a source file, not a header:
	// clients cannot see its definition, so they cannot allocate it.
	Internal bool
	// NoPublicCtor says the class declares constructors and every one is
	// private or deleted: clients cannot create it.
	NoPublicCtor bool
}

// A Base is one direct base class.
type Base struct {
	Type    *Type
	Offset  int64 // -1 for a virtual base (found through the vtable)
	Virtual bool
	Access  Access
}

// A Method is a member function declared in a class.
type Method struct {
	Name    string // source name: "get", "~S", "operator=="
	Linkage string // mangled name, when DWARF gives it
	// Virtuality is 0, DW_VIRTUALITY_virtual (1) or _pure_virtual (2).
	Virtuality int64
	// Slot is the vtable index from DW_AT_vtable_elem_location, -1 when
	// absent.
	Slot       int64
	Static     bool // no implicit object parameter
	Access     Access
	Params     []*Type // excluding this
	Inline     bool    // declared inline or defined in the class
	Deleted    bool
	Artificial bool // implicitly declared by the compiler
}

func (c *ClassInfo) hasVirtualBase() bool {
	for _, b := range c.Bases {
		if b.Virtual {
			return true
		}
	}
	return false
}

// Access is C++ member access, DW_ACCESS_*.
type Access int64

// Accesses.
const (
	AccessPublic    Access = 1
	AccessProtected Access = 2
	AccessPrivate   Access = 3
)

// String returns "public", "protected" or "private".
func (a Access) String() string {
	switch a {
	case AccessProtected:
		return "protected"
	case AccessPrivate:
		return "private"
	}
	return "public"
}

// A Member is a data member of a struct, union or class.
type Member struct {
	Name      string // empty for an anonymous struct or union member
	Type      *Type
	Offset    int64 // byte offset
	BitOffset int64 // bit offset from the start of the aggregate, for bit-fields
	BitSize   int64 // width of a bit-field, 0 when not one
}

// An Enumerator is one constant of an enum.
type Enumerator struct {
	Name  string
	Value int64
}

// Sizeof returns the size of t in bytes, looking through typedefs and
// qualifiers; -1 when unknown.
func (t *Type) Sizeof() int64 {
	n := int64(1) // product of the array lengths crossed so far
	for i := 0; t != nil && i < MaxAliasChain; i++ {
		switch {
		case t.Kind == TypedefType || t.Kind.isQualifier():
			t = t.Elem
			continue
		case t.Kind == ArrayType && t.Size < 0:
			if t.Count < 0 {
				return -1
			}
			n *= t.Count
			t = t.Elem
			continue
		}
		if t.Size < 0 {
			return -1
		}
		return n * t.Size
	}
	return -1
}

// MaxAliasChain bounds walks through typedefs, qualifiers and arrays: only
// malformed DWARF makes them longer (or cyclic).
const MaxAliasChain = 64

// Alignof returns the alignment of t in bytes, as the x86-64 System V ABI
// computes it; 0 when unknown.
func (t *Type) Alignof() int64 { return t.alignof(0) }

func (t *Type) alignof(depth int) int64 {
	if t == nil || depth > 64 {
		return 0
	}
	if t.Align > 0 {
		return t.Align
	}
	switch t.Kind {
	case TypedefType, ConstType, VolatileType, RestrictType, AtomicType, ArrayType:
		return t.Elem.alignof(depth + 1)
	case BaseType, EnumType, PointerType, ReferenceType, RvalueRefType, PtrToMemberType:
		s := t.Size
		if s > 16 {
			s = 16
		}
		if t.Kind == BaseType && t.Size == 10 { // x87 extended in 12 bytes on i386
			s = 4
		}
		return s
	case StructType, UnionType, ClassType:
		var a int64 = 1
		if c := t.Class; c != nil {
			if c.VPtr || len(c.Bases) > 0 && c.hasVirtualBase() {
				a = 8
			}
			for _, b := range c.Bases {
				if ba := b.Type.alignof(depth + 1); ba > a {
					a = ba
				}
			}
		}
		for _, m := range t.Members {
			if ma := m.Type.alignof(depth + 1); ma > a {
				a = ma
			}
		}
		return a
	}
	return 0
}

// Strip returns t without typedefs and qualifiers.
func (t *Type) Strip() *Type {
	for i := 0; t != nil && (t.Kind == TypedefType || t.Kind.isQualifier()); i++ {
		if i == MaxAliasChain {
			return nil
		}
		t = t.Elem
	}
	return t
}

// StripTypedefs returns t without typedefs (qualifiers stay).
func (t *Type) StripTypedefs() *Type {
	for i := 0; t != nil && t.Kind == TypedefType; i++ {
		if i == MaxAliasChain {
			return nil
		}
		t = t.Elem
	}
	return t
}

// String returns the type as C spells it: "struct point *", "const char *",
// "int (*)(int, int)", "int[4]".
func (t *Type) String() string {
	var b strings.Builder
	w := typeWriter{left: maxSpelled}
	w.write(&b, t, "", 0)
	return b.String()
}

// maxSpelled bounds the types one spelling writes: a function type among
// its own parameters (in a corrupt dump) would otherwise double them at
// each level.
const maxSpelled = 4096

// A typeWriter spells one type, at most maxSpelled of its parts.
type typeWriter struct {
	left int // the parts it may still write
}

// write writes t declaring inner (a declarator such as "*" or "").
func (w *typeWriter) write(b *strings.Builder, t *Type, inner string, depth int) {
	w.left--
	if t == nil {
		b.WriteString("void")
		if inner != "" {
			b.WriteString(" " + inner)
		}
		return
	}
	if depth > 32 || w.left < 0 {
		b.WriteString("…")
		return
	}
	switch t.Kind {
	case PointerType, ReferenceType, RvalueRefType:
		op := map[TypeKind]string{PointerType: "*", ReferenceType: "&", RvalueRefType: "&&"}[t.Kind]
		e := t.Elem.StripTypedefs()
		if e != nil && (e.Kind == FuncType || e.Kind == ArrayType) && t.Elem.Kind != TypedefType {
			w.write(b, t.Elem, "("+op+inner+")", depth+1)
			return
		}
		w.write(b, t.Elem, op+inner, depth+1)
	case ConstType, VolatileType, RestrictType, AtomicType:
		q := t.Kind.String()
		e := t.Elem
		if e != nil && (e.Kind == PointerType || e.Kind == ReferenceType) {
			w.write(b, e, strings.TrimSpace(inner0(q, inner)), depth+1)
			return
		}
		b.WriteString(q + " ")
		w.write(b, e, inner, depth+1)
	case ArrayType:
		n := ""
		if t.Count >= 0 {
			n = strconv.FormatInt(t.Count, 10)
		}
		w.write(b, t.Elem, inner+"["+n+"]", depth+1)
	case FuncType:
		var p strings.Builder
		p.WriteString(inner + "(")
		for i, pt := range t.Params {
			if i > 0 {
				p.WriteString(", ")
			}
			w.write(&p, pt, "", depth+1)
		}
		if t.Variadic {
			if len(t.Params) > 0 {
				p.WriteString(", ")
			}
			p.WriteString("...")
		} else if len(t.Params) == 0 {
			p.WriteString("void")
		}
		p.WriteString(")")
		w.write(b, t.Elem, p.String(), depth+1)
	default:
		b.WriteString(t.BaseName())
		if inner != "" {
			if inner[0] == '[' || inner[0] == '(' && !strings.HasPrefix(inner, "(*") {
				b.WriteString(inner)
			} else {
				b.WriteString(" " + inner)
			}
		}
	}
}

// inner0 places a qualifier after a pointer declarator: "* const".
func inner0(q, inner string) string {
	if inner == "" {
		return q
	}
	return q + " " + inner
}

// BaseName names a type that is not built from another: base types,
// typedefs, tagged types.
func (t *Type) BaseName() string {
	switch t.Kind {
	case VoidType:
		if t.Name != "" {
			return t.Name
		}
		return "void"
	case StructType, UnionType, ClassType, EnumType:
		if t.Name == "" {
			return t.Kind.String() + " {…}"
		}
		if t.CXX {
			return t.Name
		}
		return t.Kind.String() + " " + t.Name
	}
	return t.Name
}
