package elfdiff

import "strconv"

// A Kind names what changed between two versions of a library, neutrally:
// whether the change breaks clients is for package rules to say.
type Kind string

// Library-level and symbol-level kinds of change.
const (
	MachineChanged        Kind = "machine-changed"         // e_machine differs
	SonameChanged         Kind = "soname-changed"          // DT_SONAME differs (Old or New may be empty)
	NeededAdded           Kind = "needed-added"            // a DT_NEEDED entry appeared
	NeededRemoved         Kind = "needed-removed"          // a DT_NEEDED entry disappeared
	VersionNodeAdded      Kind = "version-node-added"      // a version definition appeared
	VersionNodeRemoved    Kind = "version-node-removed"    // a version definition disappeared
	SymbolAdded           Kind = "symbol-added"            // an exported symbol appeared
	SymbolRemoved         Kind = "symbol-removed"          // an exported symbol disappeared
	SymbolHidden          Kind = "symbol-hidden"           // still defined, no longer exported
	SymbolVersionChanged  Kind = "symbol-version-changed"  // same name, the old version binding is gone
	SymbolVersioned       Kind = "symbol-versioned"        // an unversioned symbol got a version
	SymbolDefaultVersion  Kind = "symbol-default-version"  // name@@V became name@V (another default took over)
	SymbolTypeChanged     Kind = "symbol-type-changed"     // FUNC, OBJECT, TLS, GNU_IFUNC…
	SymbolSizeChanged     Kind = "symbol-size-changed"     // size of a data (OBJECT, TLS) symbol
	SymbolBindingChanged  Kind = "symbol-binding-changed"  // GLOBAL, WEAK, GNU_UNIQUE
	SymbolVisibilityMoved Kind = "symbol-visibility-moved" // default ↔ protected
)

// Declaration-level kinds: the DWARF declaration of an exported function
// or variable changed.
const (
	ParamAdded           Kind = "param-added"            // a parameter appeared (Where names it)
	ParamRemoved         Kind = "param-removed"          // a parameter disappeared
	ParamTypeChanged     Kind = "param-type-changed"     // a parameter's type is another type
	ParamPassingChanged  Kind = "param-passing-changed"  // same type, passed another way (registers ↔ memory)
	ReturnTypeChanged    Kind = "return-type-changed"    // the return type is another type
	ReturnPassingChanged Kind = "return-passing-changed" // same type, returned another way (registers ↔ hidden pointer)
	VariadicChanged      Kind = "variadic-changed"       // "..." appeared or disappeared
	VarTypeChanged       Kind = "var-type-changed"       // an exported variable's type is another type
	ConstValueChanged    Kind = "const-value-changed"    // an exported constant (in .rodata) has another value
)

// Type-level kinds: a type reachable from exported symbols changed. Type
// names the type and Affected lists the symbols that reach it.
const (
	TypeSizeChanged        Kind = "type-size-changed"        // sizeof changed
	TypeAlignmentChanged   Kind = "type-alignment-changed"   // alignof changed
	TypeBecameOpaque       Kind = "type-became-opaque"       // complete → declaration only
	MemberAdded            Kind = "member-added"             // a data member appeared
	MemberRemoved          Kind = "member-removed"           // a data member disappeared
	MemberRenamed          Kind = "member-renamed"           // same offset and type, another name
	MemberMoved            Kind = "member-moved"             // a data member's offset changed
	MemberTypeChanged      Kind = "member-type-changed"      // a data member's type is another type
	BitfieldChanged        Kind = "bitfield-changed"         // a bit-field's bit offset or width changed
	ArrayLengthChanged     Kind = "array-length-changed"     // an array's element count changed (Where locates it)
	FuncPtrChanged         Kind = "function-pointer-changed" // a pointed-to function type's signature changed
	TypedefRetargeted      Kind = "typedef-retargeted"       // a typedef names another type
	EnumeratorAdded        Kind = "enumerator-added"         // an enum constant appeared
	EnumeratorRemoved      Kind = "enumerator-removed"       // an enum constant disappeared
	EnumeratorValueChanged Kind = "enumerator-value-changed" // an enum constant's value changed
	EnumeratorRenamed      Kind = "enumerator-renamed"       // same value, another name
)

// C++ kinds, found from the symbol tables, vtables and typeinfo alone (no
// debug information): the cause behind a mangled name that changed, and
// virtual-table layout. Type names the class of a vtable or typeinfo change.
const (
	CXXParamsChanged       Kind = "cxx-params-changed"        // same function, other parameter types (a new mangled name)
	CXXQualifiersChanged   Kind = "cxx-qualifiers-changed"    // same method, other const/volatile/ref qualifiers
	CXXReturnChanged       Kind = "cxx-return-changed"        // function template instance with another (mangled) return type
	CXXCtorRemoved         Kind = "cxx-constructor-removed"   // all variants (C1, C2…) of one constructor, once
	CXXDtorRemoved         Kind = "cxx-destructor-removed"    // all variants (D0, D1, D2…) of one destructor, once
	CXXThunkChanged        Kind = "cxx-thunk-changed"         // a thunk to the same function now adjusts this by another offset
	TypeinfoRemoved        Kind = "typeinfo-removed"          // _ZTI of a class disappeared
	TypeinfoNameRemoved    Kind = "typeinfo-name-removed"     // _ZTS of a class disappeared
	VTableRemoved          Kind = "vtable-removed"            // _ZTV of a class disappeared
	TypeinfoSizeChanged    Kind = "typeinfo-size-changed"     // _ZTI or _ZTS size changed (another type_info kind: bases changed)
	VTableSizeChanged      Kind = "vtable-size-changed"       // _ZTV size changed
	VTableLayoutChanged    Kind = "vtable-layout-changed"     // vtable group: sub-tables, offset-to-top or vbase/vcall offsets differ
	VirtualAppended        Kind = "virtual-appended"          // a virtual function added after the last slot
	VirtualInserted        Kind = "virtual-inserted"          // a virtual function added before existing slots, shifting them
	VirtualRemoved         Kind = "virtual-removed"           // a virtual function's slot disappeared
	VirtualMoved           Kind = "virtual-moved"             // a virtual function is in another slot (not by a shift)
	VirtualReplaced        Kind = "virtual-replaced"          // a slot holds another virtual function
	VirtualBecamePure      Kind = "virtual-became-pure"       // a slot now holds __cxa_pure_virtual
	VirtualBecameConcrete  Kind = "virtual-became-concrete"   // a pure slot now holds a function
	VirtualOverridden      Kind = "virtual-overridden"        // same function, another class's implementation (an override added or removed)
	MethodBecameVirtual    Kind = "method-became-virtual"     // an exported non-virtual function now fills a vtable slot
	MethodBecameNonVirtual Kind = "method-became-non-virtual" // a function that filled a vtable slot is still exported, no longer virtual
	VTableAdded            Kind = "vtable-added"              // a class that already exported members gained an exported vtable
	TypeinfoBaseAdded      Kind = "typeinfo-base-added"       // the class's typeinfo lists a new direct base (Where names it)
	TypeinfoBaseRemoved    Kind = "typeinfo-base-removed"     // a direct base is no longer listed
	TypeinfoBaseReplaced   Kind = "typeinfo-base-replaced"    // another base class in the same place, offset and flags
	TypeinfoBaseMoved      Kind = "typeinfo-base-moved"       // a base's offset (or, for a virtual base, its vbase-offset slot) changed
	TypeinfoBaseVirtual    Kind = "typeinfo-base-virtual"     // a base became virtual or non-virtual (Old, New: "virtual", "non-virtual")
	TypeinfoBaseAccess     Kind = "typeinfo-base-access"      // a base became public or non-public
)

// C++ kinds found in DWARF only. Base-class and vtable-slot changes found
// in DWARF reuse the Typeinfo* and Virtual* kinds above (one finding per
// change: see dedupCXX).
const (
	ClassVPtrAdded      Kind = "class-vptr-added"          // the class now holds its own vtable pointer (first virtual method)
	ClassVPtrRemoved    Kind = "class-vptr-removed"        // the class no longer holds a vtable pointer
	MethodStaticChanged Kind = "method-static-changed"     // a member function became static or non-static (same mangled name)
	AccessChanged       Kind = "access-changed"            // a member, base or method became public, protected or private
	InlineFuncRemoved   Kind = "inline-function-removed"   // an exported function declared inline is no longer emitted
	TemplateInstRemoved Kind = "template-instance-removed" // a weak instance of a function template defined in a header is no longer emitted
)

// A Change is one difference between two corpora.
type Change struct {
	Kind Kind
	// Symbol is the exported symbol the change is about, spelled as in
	// .dynsym with its version (see Symbol.String); empty for changes to
	// the library as a whole or to a type.
	Symbol string
	// SymbolType is the ELF type of Symbol (FUNC, OBJECT…), when there is one.
	SymbolType string
	// Type names the type a type-level change is in.
	Type string
	// Where locates the change inside Symbol or Type: "parameter 2 (n)",
	// "member opts".
	Where string
	// Old and New are the two sides of the change, as text.
	Old, New string
	// Affected lists the exported symbols whose ABI the change reaches.
	Affected []string
	// Detail is a neutral, one-line description of the change.
	Detail string

	// Reach says how the symbols in Affected reach the changed type or
	// declaration: the strongest use over all of them. Empty for symbol
	// and library changes.
	Reach Reach
	// Facts qualify a type change for the rules: what kind of difference
	// it is (size, register class, qualifiers only…).
	Facts Facts
	// Path shows how one affected symbol reaches a type change, e.g.
	// "setup → parameter 1 (c) → struct config * → member opts → struct options *".
	Path string
	// Decl is where the changed type (for a type-level change) or the
	// changed function or variable (for a declaration-level change) is
	// declared in NEW's sources, else in OLD's; zero when the debug
	// information does not say.
	Decl Position
}

// A Position is a place in a library's sources, as its debug information
// gives it (DW_AT_decl_file, DW_AT_decl_line).
type Position struct {
	File string // the path as the compiler saw it
	Line int    // counted from 1; 0 when unknown
}

// IsValid reports whether the position names a file.
func (p Position) IsValid() bool { return p.File != "" }

// String returns "file:line", "file" or "".
func (p Position) String() string {
	if p.Line > 0 {
		return p.File + ":" + strconv.Itoa(p.Line)
	}
	return p.File
}
