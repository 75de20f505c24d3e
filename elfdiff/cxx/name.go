package cxx

import (
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// A Special says what kind of entity a C++ symbol names when it is not
// an ordinary function or variable.
type Special string

// Special C++ symbols (Itanium C++ ABI §5.1.4).
const (
	Plain              Special = ""                // a function or variable
	VTableSymbol       Special = "vtable"          // _ZTV: virtual table
	VTTSymbol          Special = "vtt"             // _ZTT: table of construction vtables
	TypeinfoSymbol     Special = "typeinfo"        // _ZTI: std::type_info object
	TypeinfoNameSymbol Special = "typeinfo-name"   // _ZTS: the type's mangled-name string
	GuardVariable      Special = "guard"           // _ZGV: guard variable of a static
	Thunk              Special = "thunk"           // _ZTh: non-virtual this-adjusting thunk
	VirtualThunk       Special = "virtual-thunk"   // _ZTv: virtual this-adjusting thunk
	CovariantThunk     Special = "covariant"       // _ZTc: covariant-return thunk
	OtherSpecial       Special = "other-special"   // construction vtables, TLS wrappers…
	Unparsed           Special = "unparsed-c++"    // _Z… that the demangler rejects
	NotMangled         Special = "not-c++-mangled" // a C or otherwise unmangled name
)

// A Name is the identity of a C++ symbol, read from the demangler's
// syntax tree of its mangled name.
type Name struct {
	Special Special
	// Entity is the qualified name of the function or variable with its
	// template arguments but without parameters: "ns::A::f", "A<int>::A",
	// "f<int>". For vtables, typeinfo and guard variables it names the
	// class or variable they belong to; for thunks, the target function.
	Entity string
	// Scope is the class or namespace enclosing Entity: "ns::A"; empty at
	// global scope. For vtables and typeinfo it is the class itself.
	Scope string
	// Base is Entity's last component: "f", "A" (constructor), "~A".
	Base string
	// Func is true for functions; Params then lists the parameter types.
	Func   bool
	Params []string
	// Return is the return type, present in the mangling of function
	// templates only.
	Return string
	// Quals are a method's cv-qualifiers ("const", "volatile",
	// "const volatile") and Ref its ref-qualifier ("&", "&&").
	Quals, Ref string
	// CtorDtor is 'C' for constructors, 'D' for destructors, 0 otherwise;
	// Variant is the mangled variant: "C1" (complete), "C2" (base), "C3"
	// (allocating), "C4"/"D4" (unified), "C5"/"D5" (comdat), "D0"
	// (deleting), "D1", "D2". Empty when it cannot be located.
	CtorDtor byte
	Variant  string
}

// ParseName returns the identity of the symbol name (without an
// @VERSION suffix). Names that are not C++-mangled give Special
// NotMangled, and names the demangler rejects Unparsed; neither
// is an error, since a library exports all kinds of names.
func ParseName(name string) Name {
	if !strings.HasPrefix(name, "_Z") {
		return Name{Special: NotMangled, Entity: name, Base: name}
	}
	a, err := demangle.ToAST(name, demangle.NoClones)
	if err != nil {
		return Name{Special: Unparsed, Entity: name, Base: name}
	}
	var n Name
	switch a := a.(type) {
	case *demangle.Special:
		n.Special = specialKind(a.Prefix)
		switch n.Special {
		case Thunk, VirtualThunk, CovariantThunk:
			inner := entity(a.Val)
			inner.Special = n.Special
			if inner.CtorDtor != 0 {
				inner.Variant = ctorDtorVariant(name, inner.CtorDtor)
			}
			return inner
		case VTableSymbol, VTTSymbol, TypeinfoSymbol, TypeinfoNameSymbol:
			n.Entity = demangle.ASTToString(a.Val)
			n.Scope = n.Entity
			n.Base = n.Entity
			return n
		}
		inner := entity(a.Val)
		inner.Special = n.Special
		return inner
	case *demangle.Special2:
		return Name{Special: OtherSpecial, Entity: demangle.ASTToString(a), Base: name}
	}
	n = entity(a)
	if n.CtorDtor != 0 {
		n.Variant = ctorDtorVariant(name, n.CtorDtor)
	}
	return n
}

func specialKind(prefix string) Special {
	switch prefix {
	case "vtable for ":
		return VTableSymbol
	case "VTT for ":
		return VTTSymbol
	case "typeinfo for ":
		return TypeinfoSymbol
	case "typeinfo name for ":
		return TypeinfoNameSymbol
	case "guard variable for ":
		return GuardVariable
	case "non-virtual thunk to ":
		return Thunk
	case "virtual thunk to ":
		return VirtualThunk
	case "covariant return thunk to ":
		return CovariantThunk
	}
	return OtherSpecial
}

// entity reads a function (Typed) or variable (a name) node.
func entity(a demangle.AST) Name {
	var n Name
	name := a
	if t, ok := a.(*demangle.Typed); ok {
		name = t.Name
		n.Func = true
		fn := t.Type
		if m, ok := fn.(*demangle.MethodWithQualifiers); ok {
			n.Ref = m.RefQualifier
			if qs, ok := m.Qualifiers.(*demangle.Qualifiers); ok {
				var q []string
				for _, x := range qs.Qualifiers {
					if x, ok := x.(*demangle.Qualifier); ok && (x.Name == "const" || x.Name == "volatile") {
						q = append(q, x.Name)
					}
				}
				n.Quals = strings.Join(q, " ")
			}
			fn = m.Method
		}
		if f, ok := fn.(*demangle.FunctionType); ok {
			if f.Return != nil {
				n.Return = demangle.ASTToString(f.Return)
			}
			for _, p := range f.Args {
				n.Params = append(n.Params, demangle.ASTToString(p))
			}
			if len(n.Params) == 1 && n.Params[0] == "void" {
				n.Params = nil
			}
		}
	}
	n.Entity = demangle.ASTToString(name)
	n.Scope, n.Base, n.CtorDtor = splitName(name)
	return n
}

// splitName returns the scope and last component of a name node, and
// whether that component is a constructor or destructor.
func splitName(a demangle.AST) (scope, base string, cd byte) {
	switch a := a.(type) {
	case *demangle.Qualified:
		// The name of a local entity may itself be qualified:
		// f()::Local::g is f() then Local::g.
		inner, base, cd := splitName(a.Name)
		scope = demangle.ASTToString(a.Scope)
		if inner != "" {
			scope += "::" + inner
		}
		return scope, base, cd
	case *demangle.Template:
		scope, _, cd = splitName(a.Name)
		// The base keeps its template arguments: f<int> and f<long>
		// are different entities.
		if q, ok := a.Name.(*demangle.Qualified); ok {
			return scope, strings.TrimPrefix(demangle.ASTToString(a), demangle.ASTToString(q.Scope)+"::"), cd
		}
		return scope, demangle.ASTToString(a), cd
	case *demangle.TaggedName:
		scope, _, cd = splitName(a.Name)
		return scope, demangle.ASTToString(a), cd
	case *demangle.Constructor:
		return "", demangle.ASTToString(a), 'C'
	case *demangle.Destructor:
		return "", demangle.ASTToString(a), 'D'
	}
	return "", demangle.ASTToString(a), 0
}

// ctorDtorVariant finds the <ctor-dtor-name> code in a mangled name. The
// demangler's tree does not keep it (C1 and C2 print alike), so the
// nested name is scanned: source names are skipped by their length prefix,
// so that a class called C1 is not mistaken for a code, and template
// parameters, substitutions and literals by their syntax.
func ctorDtorVariant(name string, cd byte) string {
	s := name
	i := strings.IndexByte(s, 'N')
	if i < 0 {
		return ""
	}
	for i++; i < len(s); {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			n, j := 0, i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				n = n*10 + int(s[j]-'0')
				j++
				if n > len(s) {
					return ""
				}
			}
			i = j + n
		case c == cd && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '5':
			return s[i : i+2]
		case c == 'C' && cd == 'C' && i+2 < len(s) && s[i+1] == 'I' && (s[i+2] == '1' || s[i+2] == '2'):
			return "C" + s[i+2:i+3] // inheriting constructor CI1/CI2
		case c == 'S' || c == 'T':
			if i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z' {
				i += 2
				continue
			}
			j := i + 1
			for j < len(s) && s[j] != '_' {
				j++
			}
			i = j + 1
		case c == 'L':
			j := strings.IndexByte(s[i:], 'E')
			if j < 0 {
				return ""
			}
			i += j + 1
		default:
			i++
		}
	}
	return ""
}

// Signature returns the function's name and parameters with its
// qualifiers — what tells overloads apart — or the entity of a variable.
func (n Name) Signature() string {
	if !n.Func {
		return n.Entity
	}
	return n.Entity + n.ParamList() + n.qualSuffix()
}

// ParamList returns the parameters in parentheses: "(int, char const*)".
func (n Name) ParamList() string { return "(" + strings.Join(n.Params, ", ") + ")" }

func (n Name) qualSuffix() string {
	s := ""
	if n.Quals != "" {
		s += " " + n.Quals
	}
	if n.Ref != "" {
		s += " " + n.Ref
	}
	return s
}

// Qualifiers returns the cv- and ref-qualifiers as one string:
// "const &"; empty when there are none.
func (n Name) Qualifiers() string { return strings.TrimSpace(n.qualSuffix()) }

// MethodKey identifies a virtual function independently of the class that
// implements it, so a vtable slot filled by Base::f and by Derived::f
// compares equal: "f(int) const"; destructors are "~(D1)" and "~(D0)",
// since each class's destructor has another name.
func (n Name) MethodKey() string {
	if n.CtorDtor == 'D' {
		return "~(" + n.Variant + ")"
	}
	return n.Base + n.ParamList() + n.qualSuffix()
}

// Mangled reports whether the name is a C++ name the demangler read.
func (n Name) Mangled() bool { return n.Special != NotMangled && n.Special != Unparsed }
