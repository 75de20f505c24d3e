package abi

// This file decodes what C++ adds to a class: base classes, the vtable
// pointer, static data members, methods and access.

import (
	"github.com/compatgate/compatgate/elfdiff/dwarfdec"

	"debug/dwarf"
	"slices"
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// DWARF constants of C++ classes.
const (
	dwCCPassByReference = 4
	dwCCPassByValue     = 5
	VirtualityNone      = 0 // DW_VIRTUALITY_none
	dwDefaultedInClass  = 1
)

// classChild decodes one child DIE of a C++ class. It reports done when
// the child was consumed (not a non-static data member).
func (dr *dwarfReader) classChild(t *Type, k *dwarfdec.DIE) (done bool, err error) {
	c := t.Class
	acc := access(t, k)
	var name string
	switch k.Tag {
	case dwarf.TagMember, dwarf.TagVariable, dwarf.TagSubprogram:
		name, _ = k.Str(dwarfdec.SlotName)
	}
	switch k.Tag {
	case dwarf.TagInheritance:
		b := Base{Access: acc, Offset: -1}
		v, _ := k.Int(dwarfdec.SlotVirtuality)
		b.Virtual = v != VirtualityNone
		if !b.Virtual {
			b.Offset = memberOffset(k)
		}
		if b.Type, err = dr.typeOf(k); err != nil {
			return true, err
		}
		c.Bases = append(c.Bases, b)
		if acc != AccessPublic {
			c.setAccess("base "+b.Type.Strip().BaseNameOrVoid(), acc)
		}
		return true, nil
	case dwarf.TagMember:
		if k.Flag(dwarfdec.SlotArtificial) && strings.HasPrefix(name, "_vptr") {
			c.VPtr = true
			return true, nil
		}
		if k.IsDeclaration() || k.Flag(dwarfdec.SlotExternal) { // DWARF 4 static data member
			return true, dr.static(c, k, name)
		}
		if acc != AccessPublic && name != "" {
			c.setAccess("member "+name, acc)
		}
		return false, nil
	case dwarf.TagVariable: // DWARF 5 static data member
		return true, dr.static(c, k, name)
	case dwarf.TagSubprogram:
		m, err := dr.method(k, name, acc, t)
		if err != nil {
			return true, err
		}
		dr.methodStack = append(dr.methodStack, m)
		if acc != AccessPublic && !m.Artificial {
			c.setAccess(m.Key(), acc)
		}
		return true, nil
	}
	return true, nil
}

// BaseNameOrVoid returns the base name of t, or "void" when t is nil.
func (t *Type) BaseNameOrVoid() string {
	if t == nil {
		return "void"
	}
	return t.BaseName()
}

func (c *ClassInfo) setAccess(key string, a Access) {
	if c.Access == nil {
		c.Access = make(map[string]Access)
	}
	c.Access[key] = a
}

// static decodes a static data member.
func (dr *dwarfReader) static(c *ClassInfo, k *dwarfdec.DIE, name string) error {
	mt, err := dr.typeOf(k)
	if err != nil {
		return err
	}
	c.Statics = append(c.Statics, Member{Name: name, Type: mt})
	return nil
}

// access returns the access of a class child: DW_AT_accessibility, or
// the default of its class (private in a class, public otherwise).
func access(t *Type, k *dwarfdec.DIE) Access {
	if a, ok := k.Int(dwarfdec.SlotAccessibility); ok && a >= 1 && a <= 3 {
		return Access(a)
	}
	if t.Kind == ClassType {
		return AccessPrivate
	}
	return AccessPublic
}

// memberOffset decodes DW_AT_data_member_location.
func memberOffset(k *dwarfdec.DIE) int64 {
	if loc, ok := k.Int(dwarfdec.SlotDataMemberLoc); ok {
		return loc
	}
	if loc, ok := k.Block(dwarfdec.SlotDataMemberLoc); ok && len(loc) > 1 && loc[0] == 0x23 { // DW_OP_plus_uconst n
		return int64(uleb(loc[1:]))
	}
	return 0
}

// method decodes a member function declaration.
//
// Parameter types are decoded only where they are needed — constructors
// (to find copy and move constructors) and methods without a linkage name
// (to tell overloads apart) — so that reading a class does not pull in
// the type graph of every method it declares.
func (dr *dwarfReader) method(k *dwarfdec.DIE, name string, acc Access, class *Type) (Method, error) {
	m := Method{Name: name, Access: acc, Slot: -1}
	m.Linkage, _ = k.Str(dwarfdec.SlotLinkageName)
	m.Virtuality, _ = k.Int(dwarfdec.SlotVirtuality)
	if loc, ok := k.Block(dwarfdec.SlotVtableElemLoc); ok && len(loc) > 1 && loc[0] == dwarfdec.OpConstu {
		m.Slot = int64(uleb(loc[1:]))
	} else if n, ok := k.Int(dwarfdec.SlotVtableElemLoc); ok {
		m.Slot = n
	}
	m.Artificial = k.Flag(dwarfdec.SlotArtificial)
	m.Deleted = k.Flag(dwarfdec.SlotDeleted)
	if d, _ := k.Int(dwarfdec.SlotDefaulted); d == dwDefaultedInClass {
		m.Artificial = true // trivial unless its members say otherwise
	}
	in, _ := k.Int(dwarfdec.SlotInline)
	m.Inline = in == dwInlDeclaredInlined || in == dwInlDeclaredNotInlined
	m.Static = true
	needParams := m.Linkage == "" || name == simpleName(class.Name)
	// The parameters go on dr.paramStack, above those of the methods
	// being read further up, and leave it in one slice.
	base := len(dr.paramStack)
	var p dwarfdec.DIE
	c := dwarfdec.ChildrenOf(k)
	for i := 0; ; i++ {
		ok, err := dr.dies.Next(&c, &p)
		if err != nil {
			return m, err
		}
		if !ok {
			break
		}
		if p.Tag != dwarf.TagFormalParameter {
			continue
		}
		if p.Flag(dwarfdec.SlotArtificial) {
			if i == 0 {
				m.Static = false
			}
			continue
		}
		if !needParams {
			dr.paramStack = append(dr.paramStack, nil)
			continue
		}
		pt, err := dr.typeOf(&p)
		if err != nil {
			return m, err
		}
		dr.paramStack = append(dr.paramStack, pt)
	}
	if len(dr.paramStack) > base {
		m.Params = slices.Clone(dr.paramStack[base:])
		dr.paramStack = dr.paramStack[:base]
	}
	return m, nil
}

// Key identifies a method among its class's: its mangled name, or its
// name and parameter types.
func (m Method) Key() string {
	if m.Linkage != "" {
		return m.Linkage
	}
	return m.plain()
}

// Signature shows a method for reports: its demangled linkage name
// ("ns::S::get(int)"), else its name and parameter types ("get(int)").
func (m Method) Signature() string {
	if m.Linkage != "" {
		if d := demangle.Filter(m.Linkage, demangle.NoClones); d != m.Linkage {
			return d
		}
	}
	return m.plain()
}

// plain spells a method by its name and parameter types: "get(int)".
func (m Method) plain() string {
	var b strings.Builder
	b.WriteString(m.Name + "(")
	for i, p := range m.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	b.WriteString(")")
	return b.String()
}

// finishClass decides what depends on the whole class: how it is passed,
// and whether clients can create it.
func (dr *dwarfReader) finishClass(t *Type, e *dwarfdec.DIE) {
	c := t.Class
	if !t.Declaration && !c.Internal && reservedName(t.Name) {
		c.Internal = dr.declaredInSource(e)
	}
	simple := simpleName(t.Name)
	ctors, open := 0, 0
	nonTrivial := c.VPtr
	for _, m := range c.Methods {
		isCtor := m.Name == simple
		if isCtor && !m.Artificial {
			ctors++
			if !m.Deleted && m.Access != AccessPrivate {
				open++
			}
		}
		if m.Virtuality != VirtualityNone {
			nonTrivial = true
		}
		if m.Artificial || m.Deleted {
			continue
		}
		if strings.HasPrefix(m.Name, "~") || isCtor && len(m.Params) == 1 && refersTo(m.Params[0], t) {
			nonTrivial = true // user-provided destructor, copy or move constructor
		}
	}
	c.NoPublicCtor = ctors > 0 && open == 0
	for _, b := range c.Bases {
		if b.Virtual {
			nonTrivial = true
		}
		if bt := b.Type.Strip(); bt != nil && bt.Class != nil && bt.Class.PassByRef {
			nonTrivial = true
		}
	}
	for _, m := range t.Members {
		if mt := m.Type.Strip(); mt != nil && mt.Class != nil && mt.Class.PassByRef {
			nonTrivial = true
		}
	}
	switch cc, _ := e.Int(dwarfdec.SlotCallingConvention); cc {
	case dwCCPassByReference:
		c.PassByRef = true
	case dwCCPassByValue:
		c.PassByRef = false
	default:
		c.PassByRef = nonTrivial
	}
}

// reservedName reports whether the last component of a qualified name is
// an identifier reserved to the implementation (_Upper…, or holding __):
// a library's internal class, not part of its interface.
func reservedName(name string) bool {
	if i := strings.IndexByte(name, '<'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	return strings.Contains(name, "__") || len(name) > 1 && name[0] == '_' && name[1] >= 'A' && name[1] <= 'Z'
}

// simpleName returns the unqualified name of a class without template
// arguments: "Box" for "ns::Box<a::b>", the name its constructors have.
func simpleName(name string) string {
	if i := strings.IndexByte(name, '<'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	return name
}

// refersTo reports whether p is a reference (lvalue or rvalue) to t.
func refersTo(p, t *Type) bool {
	if p == nil || (p.Kind != ReferenceType && p.Kind != RvalueRefType) {
		return false
	}
	_, e := Qualifiers(p.Elem)
	return e == t || e != nil && e.Name == t.Name && e.Kind.IsAggregate()
}

// markInternal extends internality from the classes found internal
// (defined in a source file under a reserved name) to the classes nested
// in them and the templates instantiated on them, which the decoder may
// have met first.
func markInternal(types map[dwarf.Offset]*Type) {
	// The patterns that name an internal class n inside another name:
	// "n::", "<n", " n". A class reached by several offsets, or defined
	// in several units, gives its patterns once.
	type patterns struct{ scope, arg, word string }
	seen := make(map[string]bool)
	var pats []patterns
	for _, t := range types {
		if t.Class != nil && t.Class.Internal && t.Name != "" && !seen[t.Name] {
			seen[t.Name] = true
			pats = append(pats, patterns{t.Name + "::", "<" + t.Name, " " + t.Name})
		}
	}
	if len(pats) == 0 {
		return
	}
	for _, t := range types {
		if t.Class == nil || t.Class.Internal || t.Name == "" {
			continue
		}
		for _, p := range pats {
			if strings.HasPrefix(t.Name, p.scope) || strings.Contains(t.Name, p.arg) || strings.Contains(t.Name, p.word) {
				t.Class.Internal = true
				break
			}
		}
	}
}
